"""Base classes for resources: what the microservice starts, stops and reports on.

A resource is a :class:`BaseResource` instance declared as a class attribute of a
``Microservice``. The attribute name is its name and its settings key
(``system.resources.<name>``). Start chain: ``bind`` → ``configure_settings`` → ``pre_start``
→ ``start`` → ``post_start``; stop chain: ``stop`` → ``post_stop``.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tamarco.codecs import BytesCodec, Codec, JsonCodec

if TYPE_CHECKING:
    from tamarco.core.microservice import Microservice
    from tamarco.core.settings.settings import SettingsView

__all__ = [
    "BaseResource",
    "DatabaseResource",
    "IOResource",
    "InputBase",
    "OutputBase",
    "StatusCodes",
]


class StatusCodes(enum.IntEnum):
    """The states a resource reports."""

    NOT_STARTED = 0
    CONNECTING = 1
    STARTED = 2
    STOPPING = 3
    STOPPED = 4
    FAILED = 5


StatusListener = Callable[["BaseResource", StatusCodes, StatusCodes], Any]


class BaseResource:
    """The interface every Tamarco resource implements.

    Subclasses override the lifecycle hooks and call ``super()``: the base ``start`` marks the
    resource STARTED and the base ``stop`` marks it STOPPED, so a subclass that does its I/O
    first and then calls ``super().start()`` reports STARTED only when it really is.
    """

    #: Other resources of the same service that must start before this one: names, or
    #: contracts (e.g. ``tamarco.core.report_server.ReportServer``) meaning every resource
    #: satisfying them, if any.
    depends_on: ClassVar[Sequence[str | type]] = ()
    #: Extra logger names this resource logs to; configured like the service's logger.
    loggers_names: ClassVar[Sequence[str]] = ()
    #: Third-party loggers this resource's library logs to, and the lowest level let through:
    #: they go to the service's outputs (timestamps, JSON, Logstash) instead of bare stderr.
    library_loggers: ClassVar[Mapping[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Subclasses take their own arguments and pass the rest here: what is left was not
        # understood by any class (a misspelled keyword, say), and is refused rather than ignored.
        if args or kwargs:
            given = [*(repr(arg) for arg in args), *kwargs]
            raise TypeError(f"{type(self).__name__}() got unexpected argument(s): {', '.join(given)}")
        self.name: str | None = None
        self.microservice: Microservice | None = None
        self.settings: SettingsView | None = None
        self.logger = logging.getLogger(f"tamarco.{type(self).__name__}")
        self.last_error: str | None = None
        #: The exception behind ``last_error``, when one was given.
        self.last_exception: BaseException | None = None
        self._status_code = StatusCodes.NOT_STARTED
        self._status_listeners: list[StatusListener] = []

    # -- status --------------------------------------------------------------------------

    @property
    def status_code(self) -> StatusCodes:
        return self._status_code

    @property
    def _status(self) -> StatusCodes:
        """0.1 resources assign ``self._status = StatusCodes.FAILED``: that is :meth:`set_status`,
        so the listeners (restart policies, ``/status``) hear of it."""
        return self._status_code

    @_status.setter
    def _status(self, status: StatusCodes) -> None:
        self.set_status(status)

    def set_status(self, status: StatusCodes, error: BaseException | str | None = None) -> None:
        """Change the status and tell the listeners (the status resource, restart policies)."""
        previous, self._status_code = self._status_code, StatusCodes(status)
        if error is not None:
            self.last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self.last_exception = None if isinstance(error, str) else error
        if previous != self._status_code:
            for listener in list(self._status_listeners):
                try:
                    listener(self, previous, self._status_code)
                except Exception:
                    self.logger.exception("status listener of resource %s failed", self.name)

    def add_status_listener(self, listener: StatusListener) -> None:
        """Call ``listener(resource, old, new)`` on every status change."""
        self._status_listeners.append(listener)

    def remove_status_listener(self, listener: StatusListener) -> None:
        if listener in self._status_listeners:
            self._status_listeners.remove(listener)

    async def status(self) -> dict[str, Any]:
        """Information about the state of the resource (never credentials)."""
        info: dict[str, Any] = {"status": int(self._status_code), "status_name": self._status_code.name}
        if self.last_error is not None:
            info["last_error"] = self.last_error
        return info

    # -- lifecycle -----------------------------------------------------------------------

    async def bind(self, microservice: Microservice, name: str) -> None:
        """Attach the resource to the microservice that manages it."""
        self.microservice = microservice
        self.name = name
        self.logger = logging.getLogger(f"tamarco.{name}")

    async def configure_settings(self, settings: SettingsView) -> None:
        """Receive the resource's settings view (``system.resources.<name>``)."""
        self.settings = settings

    async def check_settings(self) -> None:
        """Check every setting the resource reads, without I/O, and raise naming the wrong keys.
        The service calls it for each of its resources once all are bound, before any
        ``pre_start``, and reports every resource's wrong settings together."""

    async def pre_start(self) -> None:
        """Before any I/O: prepare what ``start`` needs."""

    async def start(self) -> None:
        """Open connections, start servers. The base marks the resource STARTED."""
        self.set_status(StatusCodes.STARTED)

    async def post_start(self) -> None:
        """Everything is started: work that needs the other resources running."""

    async def stop(self) -> None:
        """Close connections and servers. The base marks the resource STOPPED."""
        self.set_status(StatusCodes.STOPPED)

    async def post_stop(self) -> None:
        """Final cleanup after every resource stopped."""

    # -- live settings -------------------------------------------------------------------

    #: Setting names (relative to the resource) that :meth:`apply_settings` applies live.
    live_settings: ClassVar[Sequence[str]] = ()
    #: Every top-level key of ``system.resources.<name>`` the resource knows: the ones its
    #: :meth:`check_settings` accepts (any other fails the start, naming it). A subclass that
    #: reads more extends its parent's (``(*Parent.settings_keys, "tenant")``). With them, a key
    #: changed while the service runs that is not one of them is logged as ignored, naming the
    #: known ones, instead of as needing a restart. ``None``: the resource does not declare them.
    settings_keys: ClassVar[tuple[str, ...] | None] = None

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """Apply changed live settings (``{relative key: new value or None}``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name or '(unbound)'} {self._status_code.name}>"


class InputBase:
    """A stream of incoming messages of an :class:`IOResource`.

    Use it either as a decorator on a service method (called once per message) or as an async
    iterator (``async for message in self.my_input``). A hand-written IO resource calls
    :meth:`deliver` with each decoded message. (The messaging inputs,
    :class:`~tamarco.core.messaging.MessageInput`, go through the core's consumer instead: their
    transports hand deliveries to ``Consumer.handle``.)
    """

    def __init__(
        self,
        name: str | None = None,
        codec: Codec | None = JsonCodec,
        resource: IOResource | None = None,
        on_message: Callable[..., Awaitable[Any]] | None = None,
        max_queue_size: int = 1000,
    ) -> None:
        self.name = name
        #: ``None`` is :class:`~tamarco.codecs.BytesCodec`: the raw bytes, as in 0.1.
        self.codec = BytesCodec if codec is None else codec
        self.resource = resource
        if on_message is not None:
            _refuse_sync_handler(name, on_message)
        self.on_message_callback = on_message
        self._queue: asyncio.Queue[Any] | None = None
        self.max_queue_size = max_queue_size
        self._method_name: str | None = None
        if resource is not None:
            resource.add_input(self)

    def __call__(self, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Decorate a service method: it becomes this input's message handler."""
        _refuse_sync_handler(self.name, function)
        self.on_message_callback = function
        self._method_name = function.__name__
        if self.name is None:
            self.name = function.__name__
        function._tamarco_input = self  # type: ignore[attr-defined]
        return function

    def bind_handler(self, bound_method: Callable[..., Awaitable[Any]]) -> None:
        """Used by the microservice to bind a decorated method to its instance."""
        self.on_message_callback = bound_method

    def _messages(self) -> asyncio.Queue[Any]:
        """What :meth:`deliver` queued for the iterator (at most ``max_queue_size``); private, so
        that a transport's input can name its own ``queue`` (``AMQPInput.queue``)."""
        if self._queue is None:
            self._queue = asyncio.Queue(self.max_queue_size)
        return self._queue

    def decode(self, payload: bytes) -> Any:
        return self.codec.decode(payload)

    async def deliver(self, message: Any) -> None:
        """Hand one decoded message to the handler, or queue it for the iterator."""
        if self.on_message_callback is not None:
            await self.on_message_callback(message)
        else:
            await self._messages().put(message)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._messages().get()


def _refuse_sync_handler(name: str | None, handler: Callable[..., Any]) -> None:
    """A handler must be ``async def``: refused where the input is declared (the class body), not
    at the first message. 0.1's Kafka input also ran plain functions, blocking the event loop."""
    function = getattr(handler, "__func__", handler)
    if (inspect.isfunction(function) or inspect.isbuiltin(function)) and not inspect.iscoroutinefunction(function):
        label = getattr(function, "__qualname__", repr(function)).rsplit("<locals>.", 1)[-1]
        raise TypeError(
            f"input {name or getattr(function, '__name__', '?')}: the handler {label} must be an async function "
            f"(async def); a plain function would block the event loop"
        )


class OutputBase:
    """A destination of outgoing messages of an :class:`IOResource`."""

    def __init__(
        self, name: str | None = None, codec: Codec | None = JsonCodec, resource: IOResource | None = None
    ) -> None:
        self.name = name
        #: ``None`` is :class:`~tamarco.codecs.BytesCodec`: the raw bytes, as in 0.1.
        self.codec = BytesCodec if codec is None else codec
        self.resource = resource
        if resource is not None:
            resource.add_output(self)

    def encode(self, message: Any) -> bytes:
        return bytes(self.codec.encode(message))

    async def push(self, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Encode and send one message to one consumer (implemented by each transport)."""
        raise NotImplementedError(f"{type(self).__name__}.push")

    async def publish(self, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Encode and send one message to every subscriber (implemented by each transport), so
        that ``self.amqp.outputs["q"].publish(...)`` type-checks on any resource's outputs."""
        raise NotImplementedError(f"{type(self).__name__}.publish")

    async def request(self, message: Any, *, timeout: float = 30.0, headers: Mapping[str, Any] | None = None) -> Any:
        """Send a request and return the decoded answer (where the transport has request/response)."""
        raise NotImplementedError(f"{type(self).__name__}.request")


class IOResource(BaseResource):
    """A resource that manages message streams (AMQP, Kafka...): inputs and outputs."""

    def __init__(
        self,
        inputs: Sequence[InputBase] | None = None,
        outputs: Sequence[OutputBase] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.inputs: dict[str, InputBase] = {}
        self.outputs: dict[str, OutputBase] = {}
        for input_ in inputs or ():
            self.add_input(input_)
        for output in outputs or ():
            self.add_output(output)

    def add_input(self, input_to_add: InputBase) -> None:
        """Add one input (its name must be unique in this resource)."""
        self._attach(self.inputs, input_to_add, "input")

    def add_output(self, output: OutputBase) -> None:
        """Add one output (its name must be unique in this resource)."""
        self._attach(self.outputs, output, "output")

    def _attach(self, registry: dict[str, Any], io: InputBase | OutputBase, kind: str) -> None:
        """Name ``io`` (``<kind>_<n>`` when it has no name), bind it to this resource and add it to
        ``registry``; another object under the same name is a ValueError."""
        name = io.name or f"{kind}_{len(registry)}"
        if name in registry and registry[name] is not io:
            raise ValueError(f"resource {self.name}: duplicate {kind} name {name!r}")
        io.name = name
        io.resource = self
        registry[name] = io

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["inputs"] = sorted(self.inputs)
        info["outputs"] = sorted(self.outputs)
        return info


class DatabaseResource(BaseResource):
    """Base of database client resources (Postgres, Redis... as plugins)."""

    async def start(self, clean_database: bool = False, register_scripts: bool = True) -> None:  # type: ignore[override]
        await super().start()

    async def status(self) -> dict[str, Any]:
        return await super().status()

    async def stop(self) -> None:
        await super().stop()

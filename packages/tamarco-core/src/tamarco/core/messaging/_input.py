"""Inputs and outputs of a messaging resource, whatever the transport."""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, ParamSpec, TypedDict, TypeVar, Unpack

from tamarco.codecs import Codec, JsonCodec
from tamarco.core import payloads, tracing
from tamarco.core.messaging._message import Message
from tamarco.core.messaging._policy import RetryPolicy
from tamarco.core.messaging.errors import NotConnectedError
from tamarco.resources.bases import InputBase, OutputBase

if TYPE_CHECKING:
    from tamarco.core.messaging._resource import MessagingResource

__all__ = [
    "InputPattern",
    "MessageInput",
    "MessageOutput",
    "PayloadT",
    "PullInput",
    "RequestInput",
    "ResponseHandler",
    "SubscriptionInput",
]

#: ``subscribe``: every subscribed service (instance) gets every published message;
#: ``pull``: the consumers of one queue (group) compete, each message goes to one of them;
#: ``request``: like pull, and the handler's answer goes back to the requester.
InputPattern = Literal["subscribe", "pull", "request"]

#: The payload type of a typed input or output: ``KafkaInput[Order](topic="orders")``.
PayloadT = TypeVar("PayloadT")
_P = ParamSpec("_P")
_R = TypeVar("_R")


class InputOptions(TypedDict, total=False):
    """The keyword options every input takes, defined once: the transports' inputs accept
    ``**options: Unpack[InputOptions]`` and pass them on (see :class:`MessageInput`)."""

    name: str | None
    max_concurrency: int | None
    retry: RetryPolicy | Mapping[str, Any] | None
    dead_letter: bool | None
    ack: Literal["auto", "manual"] | None
    handler_timeout_seconds: float | None
    envelope: bool | None
    on_message: Callable[..., Awaitable[Any]] | None


_INPUT_OPTIONS = frozenset(InputOptions.__annotations__)
_POLICY_OPTIONS = ("max_concurrency", "retry", "dead_letter", "ack", "handler_timeout_seconds")


def _declared_payload(alias: Any) -> Any:
    """The payload type of ``Input[Model]`` (``typing.get_args`` of the subscripted class)."""
    for argument in typing.get_args(alias):
        if not isinstance(argument, TypeVar):
            return argument
    return inspect.Parameter.empty


class _TypedIO:
    """What typed inputs and outputs share: ``Input[Model](...)`` checks ``Model`` at once (a
    missing pydantic fails at class definition) and remembers it."""

    def __class_getitem__(cls, item: Any) -> Any:
        alias = super().__class_getitem__(item)  # type: ignore[misc]
        declared = _declared_payload(alias)
        if declared is not inspect.Parameter.empty:
            payloads.payload_type(declared)  # raises MissingExtraError without pydantic
        return alias

    def declared_payload_type(self) -> payloads.PayloadType | None:
        """The payload type given as ``Input[Model]``, if any (``__orig_class__`` is set by
        ``typing`` right after ``__init__``, so it is read on first use)."""
        cached = self.__dict__.get("_declared_payload")
        if cached is None:
            declared = _declared_payload(getattr(self, "__orig_class__", None))
            cached = (None if declared is inspect.Parameter.empty else payloads.payload_type(declared),)
            self.__dict__["_declared_payload"] = cached
        return cached[0]  # type: ignore[no-any-return]


class MessageInput(_TypedIO, InputBase, Generic[PayloadT]):
    """A stream of messages from a queue or topic (``source``).

    As a decorator on a service method, the method handles each message; otherwise the input is
    an async iterator (``async for body in self.input``). A handler receives the decoded body,
    or the :class:`Message` envelope when its first parameter is annotated ``Message`` or the
    input is created with ``envelope=True``. A request handler also receives a
    :class:`ResponseHandler` (``async def handle(self, message, response_handler)``), or returns
    its answer.

    Typed payloads: when the message parameter is annotated with a pydantic model, a dataclass,
    a ``TypedDict`` or a msgspec ``Struct`` (or the input is declared ``Input[Model](...)``, for
    ``async for``), the handler receives that type; a body that does not validate is
    dead-lettered at once, never retried (see :mod:`tamarco.core.payloads`).

    ``max_concurrency``, ``retry`` (a :class:`RetryPolicy` or a mapping), ``dead_letter``,
    ``ack`` (``"auto"`` or ``"manual"``) and ``handler_timeout_seconds`` (0: none) are the
    input's delivery policy in code; settings can override them (see ``_policy``).

    ``group_id`` names the consumer group of a ``pull`` input: the inputs of one group share
    the messages of the source (each goes to one of them), each group gets all of them. ``None``
    is the transport's default group (the queue itself on AMQP, the service's name on Kafka).
    """

    pattern: ClassVar[InputPattern] = "pull"
    #: The consumer group (see the class doc); set by the transports' inputs that take one.
    group_id: str | None = None

    def __init__(
        self,
        source: str,
        *,
        codec: Codec | None = JsonCodec,
        resource: MessagingResource | None = None,
        **options: Unpack[InputOptions],
    ) -> None:
        for option in options:
            if option not in _INPUT_OPTIONS:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {option!r}")
        if not isinstance(source, str) or not source:
            raise ValueError(f"{type(self).__name__}: the queue/topic must be a non-empty string, got {source!r}")
        self.source = source
        given: dict[str, Any] = dict(options)
        self.policy_overrides: dict[str, Any] = {
            key: given[key] for key in _POLICY_OPTIONS if given.get(key) is not None
        }
        self.envelope = options.get("envelope")
        name = options.get("name")
        on_message = options.get("on_message")
        #: Messages handed to ``async for`` and not yet released by the next iteration.
        self._iter_queue: asyncio.Queue[Message] | None = None
        self._held: Message | None = None
        super().__init__(name=name or source, codec=codec, resource=resource, on_message=on_message)

    def __call__(self, function: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:  # type: ignore[override]
        """Decorate a service method: it becomes this input's message handler. The input keeps
        its name (the queue/topic) rather than taking the method's. A method that cannot take
        the arguments the input gives is refused here, not on every message."""
        shapes = (1, 2) if self.pattern == "request" else (1,)
        if not any(takes_arguments(function, count, method=True) for count in shapes):
            wanted = (
                "(self, message) or (self, message, response_handler)"
                if self.pattern == "request"
                else "(self, message)"
            )
            raise TypeError(
                f"{type(self).__name__} {self.name!r}: handler {getattr(function, '__qualname__', function)!r} "
                f"must take {wanted}"
            )
        name = self.name
        annotation = payloads.handler_payload_annotation(function)
        if annotation is not Message:
            payloads.payload_type(annotation)  # a missing pydantic fails at class definition
        super().__call__(function)
        self.name = name
        return function

    def payload_type(self) -> payloads.PayloadType | None:
        """The type the handler receives the body as (see the class doc), None for plain data."""
        declared = self.declared_payload_type()
        if declared is not None:
            return declared
        handler = self.on_message_callback
        if handler is None:
            return None
        annotation = payloads.handler_payload_annotation(handler)
        return None if annotation is Message else payloads.payload_type(annotation)

    def reply_payload_type(self) -> payloads.PayloadType | None:
        """A request handler's answer type (its return annotation), None when untyped."""
        handler = self.on_message_callback
        if handler is None or self.pattern != "request":
            return None
        return payloads.payload_type(payloads.handler_return_annotation(handler))

    def wants_response_handler(self) -> bool:
        """Whether the request handler takes a :class:`ResponseHandler` (its second argument);
        otherwise the value it returns is the answer."""
        handler = self.on_message_callback
        return handler is not None and self.pattern == "request" and takes_arguments(handler, 2)

    # -- the handler ------------------------------------------------------------------------

    def wants_envelope(self) -> bool:
        """Whether the handler gets the :class:`Message` rather than the body."""
        if self.envelope is not None:
            return self.envelope
        handler = self.on_message_callback
        if handler is None:
            return False
        try:
            parameters = list(inspect.signature(handler).parameters.values())
        except (TypeError, ValueError):
            return False
        if parameters and parameters[0].name == "self":
            parameters = parameters[1:]
        if not parameters:
            return False
        annotation = parameters[0].annotation
        return annotation is Message or (isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "Message")

    # -- async iteration --------------------------------------------------------------------

    @property
    def iter_queue(self) -> asyncio.Queue[Message]:
        if self._iter_queue is None:
            self._iter_queue = asyncio.Queue()
        return self._iter_queue

    def release_held(self) -> None:
        """The consumer of ``async for`` is done with the message it holds (it asked for the next
        one): the message is settled."""
        held, self._held = self._held, None
        if held is not None and held.released is not None and not held.released.done():
            held.released.set_result(True)

    async def deliver(self, message: Any) -> None:
        """Not for messaging inputs: their transports hand deliveries to the core's consumer
        (``Consumer.handle``), which keeps the delivery contract."""
        raise TypeError(
            f"{type(self).__name__} {self.name!r} is fed by its transport through Consumer.handle, not deliver()"
        )

    async def __anext__(self) -> Any:
        self.release_held()
        message = await self.iter_queue.get()
        self._held = message
        item = message if self.wants_envelope() else message.body
        if self.pattern == "request":  # as in 0.1: ``async for message, response_handler in input``
            return item, ResponseHandler(message, self.codec, self._reply)
        return item

    @staticmethod
    async def _reply(message: Message, body: bytes) -> None:
        await message.delivery.reply(body, headers=tracing.reply_headers())

    def handler_call(self) -> Callable[[Message], Awaitable[Any]] | None:
        """How the consumer calls this input's handler with a message: the body or the envelope,
        and for a request, the answer (returned, or sent through a :class:`ResponseHandler`)
        sent back. None for an input consumed with ``async for``."""
        handler = self.on_message_callback
        if handler is None:
            return None
        envelope = self.wants_envelope()
        if self.pattern != "request":
            if envelope:
                return handler
            return lambda message: handler(message.body)
        codec, reply = self.codec, self._reply
        if not self.wants_response_handler():

            async def call_returning(message: Message) -> None:
                # ``async def answer(self, message)``: the value it returns is the answer.
                result = await handler(message if envelope else message.body)
                if result is not None:
                    await ResponseHandler(message, codec, reply).send_response(result)

            return call_returning

        async def call_request(message: Message) -> None:
            response = ResponseHandler(message, codec, reply)
            result = await handler(message if envelope else message.body, response)
            if not response.sent and result is not None:
                await response.send_response(result)

        return call_request

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} from {self.source!r}>"


def takes_arguments(function: Callable[..., Any], count: int, *, method: bool = False) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments (plus ``self`` when
    ``method`` and its first parameter is named so: a method decorated in its class body)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True  # nothing to check against (a builtin, a C callable): let the call tell
    arguments: list[Any] = [None] * count
    first = next(iter(signature.parameters), None)
    if method and first == "self":
        arguments.append(None)
    try:
        signature.bind(*arguments)
    except TypeError:
        return False
    return True


class PullInput(MessageInput[PayloadT]):
    """Competing consumers: each message of the queue/topic goes to one consumer of the group."""

    pattern = "pull"


class SubscriptionInput(MessageInput[PayloadT]):
    """Every subscribed service instance gets every published message."""

    pattern = "subscribe"


class RequestInput(MessageInput[PayloadT]):
    """Requests: the handler's answer goes back to the requester."""

    pattern = "request"


class MessageOutput(_TypedIO, OutputBase, Generic[PayloadT]):
    """A destination for messages: a queue or topic (``destination``).

    ``publish`` delivers to every subscriber; ``push`` to one consumer of the destination's queue
    (group), and returns once the broker confirmed it; ``request`` pushes and waits for the answer.
    Each transport says how these map onto it (AMQP exchanges and queues, Kafka topics).
    Models (pydantic, dataclasses, msgspec) are encoded by the output's codec; declared as
    ``Output[Model](...)``, the output's payload type is in the service's AsyncAPI document.
    """

    def __init__(
        self,
        destination: str,
        *,
        codec: Codec | None = JsonCodec,
        resource: MessagingResource | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(destination, str) or not destination:
            raise ValueError(f"{type(self).__name__}: the queue/topic must be a non-empty string, got {destination!r}")
        self.destination = destination
        super().__init__(name=name or destination, codec=codec, resource=resource)

    def encode(self, message: Any) -> bytes:
        return self.encoder()(message)

    def encoder(self) -> Callable[[Any], bytes]:
        """What :meth:`encode` calls: the codec and the declared payload type bound once (see
        ``payloads.encoder``); made again if the codec was replaced."""
        cached = self.__dict__.get("_encoder")
        codec = self.codec
        if cached is None or cached[0] is not codec:
            cached = self.__dict__["_encoder"] = (codec, payloads.encoder(codec, self.declared_payload_type()))
        return cached[1]  # type: ignore[no-any-return]

    def _resource(self) -> MessagingResource:
        resource = self.resource
        if resource is None:
            raise NotConnectedError(f"output {self.name!r} belongs to no resource (add it to one's outputs)")
        return resource  # type: ignore[return-value]

    async def publish(self, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Send ``message`` to every subscriber of the destination."""
        await self._resource().send(self, "publish", self.encode(message), key=key, headers=headers)

    async def push(self, message: Any, *, key: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Send ``message`` to one consumer of the destination's queue; returns once the broker
        confirmed it (persistent where the transport has persistence)."""
        await self._resource().send(self, "push", self.encode(message), key=key, headers=headers)

    async def request(self, message: Any, *, timeout: float = 30.0, headers: Mapping[str, Any] | None = None) -> Any:
        """Send ``message`` to the destination's request handler and return its decoded answer;
        :class:`~tamarco.core.messaging.errors.RequestTimeoutError` after ``timeout`` seconds."""
        raw = await self._resource().request(self, self.encode(message), timeout=timeout, headers=headers)
        return self.codec.decode(raw)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} to {self.destination!r}>"


class ResponseHandler:
    """Given to request handlers: ``await response_handler.send_response(answer)``."""

    __slots__ = ("_codec", "_message", "_send", "sent")

    def __init__(self, message: Message, codec: Codec, send: Callable[[Message, bytes], Awaitable[None]]) -> None:
        self._message = message
        self._codec = codec
        self._send = send
        self.sent = False

    async def send_response(self, response: Any) -> None:
        """Encode ``response`` with the input's codec and send it to the requester (once)."""
        if self.sent:
            raise RuntimeError(f"request from {self._message.source!r}: the response was already sent")
        body = payloads.encode_payload(self._codec, response)
        self.sent = True
        await self._send(self._message, body)

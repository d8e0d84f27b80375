"""The base of every messaging resource (AMQP, Kafka, in-memory): connection, consumers, drain.

Start: the resource is CONNECTING while it connects, retrying with backoff until
``connection_timeout`` seconds (10 by default) have passed; then FAILED, the error naming the
broker address (never credentials). Refused credentials fail at once. Once connected, every
input's consumer starts and the resource is STARTED. A lost connection makes it CONNECTING until
the transport is back (the transport restores its consumers and topology).

Stop: consumption stops, the messages not started go back to the broker, the running handlers
get ``drain_timeout_seconds`` (5 by default, kept below the service's shutdown timeout) to
finish and be acknowledged, the rest are cancelled and requeued; then the connection closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from tamarco.core import tracing
from tamarco.core.deadlines import Backoff, within
from tamarco.core.messaging._consumer import Consumer
from tamarco.core.messaging._contract import ChannelDescription
from tamarco.core.messaging._input import MessageInput, MessageOutput
from tamarco.core.messaging._meters import OutputMeters
from tamarco.core.messaging._policy import DeliveryPolicy, policy_problems
from tamarco.core.messaging._transport import SendTracker
from tamarco.core.messaging.errors import (
    AuthenticationError,
    MessagingError,
    MessagingSettingsError,
    NotConnectedError,
    PublishError,
)
from tamarco.core.settings.reader import SettingsReader, problems_of, settings_error
from tamarco.resources.bases import InputBase, IOResource, OutputBase, StatusCodes

if TYPE_CHECKING:
    from tamarco.core.messaging._transport import SendPattern, Subscription, Transport

__all__ = ["DEFAULT_CONNECTION_TIMEOUT", "DEFAULT_DRAIN_TIMEOUT", "MESSAGING_SETTINGS_KEYS", "MessagingResource"]

#: The keys of ``system.resources.<name>`` the core reads for every messaging resource: the
#: connection and drain timeouts, the delivery policy (``delivery``) and each input's
#: (``inputs.<input name>``). A transport's resource adds its own to ``settings_keys``.
MESSAGING_SETTINGS_KEYS: tuple[str, ...] = ("connection_timeout", "drain_timeout_seconds", "delivery", "inputs")

DEFAULT_CONNECTION_TIMEOUT = 10.0
DEFAULT_DRAIN_TIMEOUT = 5.0
_FIRST_RETRY_DELAY = 0.1
_MAX_RETRY_DELAY = 2.0
#: The states in which outputs send.
_SENDING = (StatusCodes.STARTED, StatusCodes.CONNECTING)
#: The input type of the resource's transport (``MessagingResource[KafkaInput]``).
_InputT = TypeVar("_InputT", bound="MessageInput[Any]")


class MessagingResource(IOResource, Generic[_InputT]):
    """Inputs and outputs over one broker connection (a :class:`Transport` of its input type).

    Subclasses build their transport from the settings in :meth:`create_transport`, and name in
    :attr:`input_type` the inputs it consumes: any other input is refused when it is added.
    :meth:`use_transport` replaces it before the start — with an
    :class:`~tamarco.core.messaging.InMemoryTransport` to unit-test a service's handlers
    without a broker.
    """

    #: The transport kind, for messages before a transport exists.
    transport_kind: ClassVar[str] = "messaging"
    #: The inputs the transport consumes (``_InputT`` at run time); others are refused by name.
    input_type: ClassVar[type[MessageInput[Any]]] = MessageInput
    #: Every key of ``system.resources.<name>`` the resource reads: any other is refused at
    #: start, naming its full key. A subclass reading more extends it
    #: (``(*MessagingResource.settings_keys, "host", ...)``).
    settings_keys: ClassVar[tuple[str, ...]] = MESSAGING_SETTINGS_KEYS

    def __init__(
        self,
        inputs: Sequence[InputBase] | None = None,
        outputs: Sequence[OutputBase] | None = None,
        *args: Any,
        transport: Transport[_InputT] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(inputs, outputs, *args, **kwargs)
        self.transport: Transport[_InputT] | None = None
        self._transport_override = transport
        self.consumers: dict[str, Consumer[_InputT]] = {}
        self._subscriptions: list[Subscription] = []
        self._output_meters: dict[str, OutputMeters] = {}
        self._send_trackers: dict[MessageOutput, SendTracker] = {}
        self._drain_timeout: float | None = None

    # -- configuration ------------------------------------------------------------------------

    def add_input(self, input_to_add: InputBase) -> None:
        """Add one input; an input its transport does not consume (not an :attr:`input_type`),
        and two inputs on one queue/topic of the same pattern and consumer group, are errors."""
        if isinstance(input_to_add, MessageInput):
            if not isinstance(input_to_add, self.input_type):
                wanted = self.input_type.__name__
                raise MessagingSettingsError(
                    f"{type(self).__name__}{f' {self.name}' if self.name else ''}: input {input_to_add.name!r} is a "
                    f"{type(input_to_add).__name__}; this resource consumes {wanted} inputs only: "
                    f"declare it as a {wanted}"
                )
            for existing in self.inputs.values():
                if (
                    existing is not input_to_add
                    and isinstance(existing, MessageInput)
                    and existing.source == input_to_add.source
                    and existing.pattern == input_to_add.pattern
                    and existing.group_id == input_to_add.group_id
                ):
                    raise MessagingSettingsError(
                        f"resource {self.name or type(self).__name__}: inputs {existing.name!r} and "
                        f"{input_to_add.name!r} both consume {input_to_add.source!r} ({input_to_add.pattern})"
                    )
        super().add_input(input_to_add)

    def use_transport(self, transport: Transport[_InputT] | None) -> None:
        """Use ``transport`` instead of the one the settings describe (at the next start)."""
        self._transport_override = transport

    def create_transport(self) -> Transport[_InputT]:
        """The transport the settings describe (subclasses implement it)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no transport: implement create_transport() or call use_transport()"
        )

    def setting(self, key: str, default: Any, expect: Any = None) -> Any:
        """A setting of this resource (``system.resources.<name>.<key>``), type-checked."""
        if self.settings is None:
            return default
        return self.settings.get_nowait(key, default, expect=expect)

    def settings_reader(self) -> SettingsReader:
        """The typed reader of this resource's settings (errors name the full key)."""
        return SettingsReader.of(self.settings, error=MessagingSettingsError)

    def _seconds(self, key: str, default: float) -> float:
        return self.settings_reader().seconds(key, default)

    def connection_timeout(self) -> float:
        """How long the start keeps trying to connect (setting ``connection_timeout``)."""
        return self._seconds("connection_timeout", DEFAULT_CONNECTION_TIMEOUT)

    def drain_timeout(self, *, warn: bool = True) -> float:
        """How long running handlers get to finish on stop (``drain_timeout_seconds``), kept
        below the service's shutdown timeout so the stop can still close the connection (said
        in a warning, unless ``warn`` is false)."""
        drain = self._seconds("drain_timeout_seconds", DEFAULT_DRAIN_TIMEOUT)
        shutdown = getattr(self.microservice, "shutdown_timeout", None)
        if callable(shutdown):
            limit = max(0.1, float(shutdown()) * 0.8)
            if drain > limit:
                if warn:
                    self.logger.warning(
                        "%s (%g s) is not below the service's shutdown timeout; draining for %g s",
                        self.settings.full_key("drain_timeout_seconds") if self.settings else "drain_timeout_seconds",
                        drain,
                        limit,
                    )
                drain = limit
        return drain

    # -- lifecycle ----------------------------------------------------------------------------

    async def check_settings(self) -> None:
        """Every setting of the resource checked, nothing connected: what the service calls for
        each of its resources before any starts, to report all the wrong keys at once."""
        self._read_settings(checking=True)

    async def start(self) -> None:
        transport, policies = self._read_settings()
        self.transport = transport
        self.set_status(StatusCodes.CONNECTING)
        await self._connect(transport)
        transport.set_connection_listener(self._on_connection_change)
        kind = transport.kind
        self._send_trackers.clear()  # their meters belong to the previous start
        service_tracing = tracing.of(self.microservice)
        # Traced: PRODUCER spans around send/enqueue/request, CONSUMER spans per delivery; off,
        # nothing is wrapped (no check on the way of a message).
        tracing.trace_sender(self, service_tracing, kind)
        for name in self.outputs:
            self._output_meters[name] = OutputMeters(kind, str(self.name), name)
        try:
            for name, input_ in self.message_inputs():
                consumer = Consumer(input_, transport, policies[name], resource_name=str(self.name), logger=self.logger)
                tracing.trace_consumer(consumer, service_tracing, kind)
                consumer.start()
                self.consumers[name] = consumer
                self._subscriptions.append(await transport.consume(input_, consumer))
        except BaseException as error:
            self.set_status(StatusCodes.FAILED, error)
            await self._shutdown(drain=0.0)
            raise
        await super().start()

    def message_inputs(self) -> list[tuple[str, _InputT]]:
        """The messaging inputs, each of :attr:`input_type` (:meth:`add_input` refused others)."""
        return [
            (name, cast("_InputT", input_)) for name, input_ in self.inputs.items() if isinstance(input_, MessageInput)
        ]

    def _read_settings(self, *, checking: bool = False) -> tuple[Transport[_InputT], dict[str, DeliveryPolicy]]:
        """Every setting this resource reads, checked before any connection is attempted: no
        unknown key, the timeouts, the transport's (``create_transport``) and each input's delivery policy.
        All the wrong ones are reported together, each naming its full key."""
        problems: list[str] = []
        transport: Transport[_InputT] | None = None
        policies: dict[str, DeliveryPolicy] = {}
        try:
            self._check_known_keys()
        except MessagingSettingsError as error:
            problems.extend(problems_of(error))
        try:
            self.connection_timeout()
        except MessagingSettingsError as error:
            problems.append(str(error))
        try:
            # Read at start, so that a wrong value fails the start naming the key, not the stop.
            self._drain_timeout = self.drain_timeout(warn=not checking)  # said once, at start
        except MessagingSettingsError as error:
            problems.append(str(error))
        try:
            transport = self._transport_override or self.create_transport()
        except MessagingSettingsError as error:
            problems.extend(problems_of(error))
        for name, input_ in self.message_inputs():
            policies[name], found = policy_problems(input_.policy_overrides, self.settings, name)
            problems.extend(problem for problem in found if problem not in problems)  # ``delivery``: once
        if problems:
            raise settings_error(MessagingSettingsError, problems)
        assert transport is not None
        return transport, policies

    def _check_known_keys(self) -> None:
        """Refuse the keys of ``system.resources.<name>`` that are not in :attr:`settings_keys`."""
        if self.settings is None:
            return
        reader = self.settings_reader()
        tree = self.settings.get_nowait(None, None)
        if tree is None:
            return
        if not isinstance(tree, Mapping):
            reader.fail("", f"must be a mapping of settings, got {type(tree).__name__}")
        reader.check_known(None, tree, self.settings_keys)

    async def _connect(self, transport: Transport[Any]) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.connection_timeout()
        deadline = loop.time() + timeout
        backoff = Backoff(_FIRST_RETRY_DELAY, _MAX_RETRY_DELAY)
        attempts = 0
        where = _address(transport)
        while True:
            attempts += 1
            remaining = deadline - loop.time()
            try:
                await within(transport.connect(), max(remaining, 0.001))
                if attempts > 1:
                    self.logger.info("resource %s connected to %s after %d attempts", self.name, where, attempts)
                return
            except AuthenticationError as error:
                self.set_status(StatusCodes.FAILED, error)
                raise
            except (TimeoutError, Exception) as error:
                reason = "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
                if loop.time() + backoff.delay >= deadline:
                    failure = NotConnectedError(
                        f"resource {self.name}: cannot connect to {where} within {timeout:g} s "
                        f"({attempts} attempts; last: {reason})"
                    )
                    self.set_status(StatusCodes.FAILED, failure)
                    await _close_quietly(transport)
                    raise failure from None
                if attempts == 1:
                    self.logger.warning(
                        "resource %s: cannot connect to %s (%s); retrying for up to %g s",
                        self.name,
                        where,
                        reason,
                        timeout,
                    )
                await _close_quietly(transport)
                await backoff.sleep()

    def _on_connection_change(self, connected: bool, reason: str | None) -> None:
        if self.status_code not in (StatusCodes.STARTED, StatusCodes.CONNECTING):
            return
        if connected and self.status_code == StatusCodes.CONNECTING:
            self.logger.info("resource %s: connection to %s restored", self.name, _address(self.transport))
            self.set_status(StatusCodes.STARTED)
        elif not connected and self.status_code == StatusCodes.STARTED:
            self.logger.warning(
                "resource %s: connection to %s lost (%s); reconnecting", self.name, _address(self.transport), reason
            )
            self.set_status(StatusCodes.CONNECTING, reason)

    async def stop(self) -> None:
        drain = self._drain_timeout if self._drain_timeout is not None else self.drain_timeout()
        await self._shutdown(drain=drain)
        await super().stop()

    async def _shutdown(self, drain: float) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            try:
                await subscription.cancel()
            except Exception as error:
                self.logger.warning("resource %s: cancelling a consumer failed: %s", self.name, error)
        consumers = list(self.consumers.values())
        if consumers:
            await asyncio.gather(*(consumer.drain(drain) for consumer in consumers))
        self.consumers.clear()
        transport = self.transport
        if transport is not None:
            transport.set_connection_listener(None)
            await _close_quietly(transport)

    # -- sending ------------------------------------------------------------------------------

    def _connected_transport(self, what: str) -> Transport[_InputT]:
        transport = self.transport
        if transport is None or self.status_code not in _SENDING:
            raise NotConnectedError(f"resource {self.name}: cannot {what}, the resource is {self.status_code.name}")
        return transport

    async def send(
        self,
        output: MessageOutput,
        pattern: SendPattern,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Send ``body`` through ``output`` (what :meth:`MessageOutput.publish`/``push`` call)."""
        transport = self.transport
        if transport is None or self.status_code not in _SENDING:
            transport = self._connected_transport(f"{pattern} to {output.destination!r}")
        meters = self._output_meters.get(str(output.name))
        try:
            await transport.send(output, pattern, body, key=key, headers=headers)
        except Exception as error:
            if meters is not None:
                meters.failed.inc()
            failure = self._send_error(error, f"{pattern} to {output.destination!r}")
            if failure is error:
                raise
            raise failure from error
        if meters is not None:
            meters.published.inc()

    async def enqueue(
        self, output: MessageOutput, body: bytes, *, key: str | None = None, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Fire-and-forget send of ``body`` through ``output`` (what ``KafkaOutput.send`` calls):
        into the transport's buffer, not waiting for the broker; the outcome reaches the output's
        meters when the broker answered (failures are logged by the transport)."""
        transport = self.transport
        if transport is None or self.status_code not in _SENDING:
            transport = self._connected_transport(f"send to {output.destination!r}")
        tracker = self._send_trackers.get(output) or self.send_tracker(output)
        try:
            await transport.enqueue(output, body, key=key, headers=headers, tracker=tracker)
        except Exception as error:
            tracker.failed()
            failure = self._send_error(error, f"send to {output.destination!r}")
            if failure is error:
                raise
            raise failure from error

    def send_tracker(self, output: MessageOutput) -> SendTracker:
        """Where the outcome of ``output``'s fire-and-forget sends goes (its meters), one per
        output and start."""
        tracker = self._send_trackers.get(output)
        if tracker is None:
            meters = self._output_meters.get(str(output.name))
            tracker = self._send_trackers[output] = SendTracker(
                output.destination,
                meters.published.inc if meters is not None else None,
                meters.failed.inc if meters is not None else None,
            )
        return tracker

    def _send_error(self, error: Exception, what: str) -> Exception:
        """``error`` as a sender sees it: the seam's errors as they are, anything else a
        :class:`PublishError` naming the resource and the destination."""
        if isinstance(error, (MessagingError, ConnectionError, TimeoutError)):
            return error
        return PublishError(f"resource {self.name}: {what} failed: {error}")

    async def request(
        self, output: MessageOutput, body: bytes, *, timeout: float, headers: Mapping[str, Any] | None = None
    ) -> bytes:
        """Send a request through ``output`` and return the raw answer."""
        transport = self._connected_transport(f"send a request to {output.destination!r}")
        meters = self._output_meters.get(str(output.name))
        answer = await transport.request(output, body, timeout=timeout, headers=headers)
        if meters is not None:
            meters.published.inc()
        return answer

    # -- contract (AsyncAPI) ------------------------------------------------------------------

    def contract_servers(self) -> dict[str, dict[str, Any]]:
        """AsyncAPI server objects of the broker(s) the settings name, never credentials
        (transport resources implement it; the base has none)."""
        return {}

    def contract_channels(self, io: _InputT | MessageOutput) -> list[ChannelDescription]:
        """The channels ``io`` reads or writes (transport resources give the real broker names
        and bindings; the base: the logical queue/topic)."""
        if isinstance(io, MessageInput):
            return [ChannelDescription(io.pattern, io.source, "receive", reply=io.pattern == "request")]
        return [ChannelDescription("send", io.destination, "send")]

    # -- status -------------------------------------------------------------------------------

    def stuck_handlers(self) -> list[str]:
        """One text per input whose handlers run past ``handler_timeout_seconds`` (they ignored
        the cancellation): what readiness condition ``handler_stuck`` reports."""
        found = []
        for name, consumer in sorted(self.consumers.items()):
            stuck = consumer.timer.stuck()
            if stuck:
                found.append(
                    f"resource {self.name} input {name}: {len(stuck)} handler(s) still running past "
                    f"handler_timeout_seconds ({consumer.timer.timeout:g} s; the longest for {stuck[0]:.1f} s)"
                )
        return found

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        transport = self.transport or self._transport_override
        info["transport"] = transport.kind if transport is not None else self.transport_kind
        if transport is not None:
            info["broker"] = transport.describe()
        info["inputs"] = {
            name: self.consumers[name].statistics() if name in self.consumers else _declared(input_)
            for name, input_ in sorted(self.inputs.items())
        }
        info["outputs"] = {
            name: {"destination": output.destination if isinstance(output, MessageOutput) else None}
            for name, output in sorted(self.outputs.items())
        }
        return info


def _declared(input_: InputBase) -> dict[str, Any]:
    """Where an input not consumed (yet) reads from; nothing for a plain core input, which a
    messaging resource keeps (``add_input`` takes it) but does not consume."""
    if isinstance(input_, MessageInput):
        return {"source": input_.source, "pattern": input_.pattern}
    return {"source": None, "pattern": None}


def _address(transport: Transport[Any] | None) -> str:
    if transport is None:
        return "(no transport)"
    try:
        described = transport.describe()
    except Exception:
        return transport.kind
    return str(described.get("address", transport.kind))


async def _close_quietly(transport: Transport[Any]) -> None:
    try:
        await transport.close()
    except Exception:  # closing a half-open connection: nothing more to report than the failure itself
        return

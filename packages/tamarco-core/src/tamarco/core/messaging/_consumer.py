"""The delivery contract, implemented once for every transport.

For each message of an input, :class:`Consumer`:

1. decodes the body with the input's codec; an undecodable payload is dead-lettered at once
   (with the error in its headers) and the consumer goes on with the next message;
2. calls the handler — at most ``max_concurrency`` at a time; more messages wait, unacknowledged,
   so the broker holds the rest (backpressure);
3. acknowledges the message only after the handler returned (at-least-once): a process killed
   mid-handler leaves it unacknowledged, and the broker delivers it again;
4. when the handler raises, calls it again after the retry delay, up to ``retry.attempts``
   times in all, then dead-letters the message (error type, text and attempts in headers) and
   acknowledges it; a handler past ``handler_timeout_seconds`` is cancelled, and that is a
   failure; a dead letter the broker refuses is tried again after a growing, bounded delay, the
   message kept unsettled (see ``_stalls``): never dropped, never handled again for it;
5. on stop (:meth:`Consumer.drain`): takes no new message, requeues those not started, lets the
   running handlers finish until the drain deadline, then cancels them and requeues their
   messages.

An input consumed with ``async for`` gets the same decoding and acknowledgement rule: a message
is acknowledged when the loop asks for the next one, and requeued if the service stops first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tamarco.core import payloads, tracing
from tamarco.core.deadlines import within
from tamarco.core.messaging._input import MessageInput
from tamarco.core.messaging._limiter import ConcurrencyLimiter
from tamarco.core.messaging._message import Delivery, Message, PositionalRun, Settlement
from tamarco.core.messaging._meters import InputMeters
from tamarco.core.messaging._policy import DeliveryPolicy
from tamarco.core.messaging._stalls import DeadLetterRetries, HandlerTimer

if TYPE_CHECKING:
    from tamarco.core.messaging._transport import Transport

__all__ = ["ERROR_HEADERS", "Consumer"]

#: Headers a dead-lettered message carries, besides its own.
ERROR_HEADERS = (
    "x-tamarco-error",
    "x-tamarco-error-type",
    "x-tamarco-attempts",
    "x-tamarco-source",
    "x-tamarco-input",
    "x-tamarco-dead-lettered-at",
)
_MAX_ERROR_TEXT = 1000
#: Settlements after which a delivery is done with (the transport may move past it).
_FINAL = frozenset((Settlement.ACKED, Settlement.DEAD_LETTERED, Settlement.REJECTED))


_InputT = TypeVar("_InputT", bound="MessageInput[Any]")


class Consumer(Generic[_InputT]):
    """Handles the messages of one input under its :class:`DeliveryPolicy` (see the module doc);
    the input is of the type its transport consumes (``Consumer[KafkaInput]``)."""

    def __init__(
        self,
        input_: _InputT,
        transport: Transport[_InputT],
        policy: DeliveryPolicy,
        *,
        resource_name: str,
        logger: logging.Logger,
    ) -> None:
        self.input = input_
        self.transport = transport
        self.policy = policy
        self.resource_name = resource_name
        self.logger = logger
        self.meters = InputMeters(transport.kind, resource_name, str(input_.name))
        self.in_flight = 0
        self.handled = 0
        self.failed = 0
        self.dead_lettered = 0
        #: Messages that decoded but did not validate against the handler's payload type.
        self.invalid = 0
        #: The concurrency bound (``max_concurrency``), the same for every transport.
        self.limiter = ConcurrencyLimiter(policy.max_concurrency)
        self._closing = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._call = input_.handler_call()
        #: Handlers under ``handler_timeout_seconds``; dead letters the broker refuses.
        self.timer = HandlerTimer(str(input_.name), policy.handler_timeout_seconds)
        self.dead_letters = DeadLetterRetries(str(input_.name), logger, policy.retry.max_delay_seconds)
        self._decode = payloads.decoder(input_.codec, input_.payload_type())
        #: The handler itself when it takes the body and the acknowledgement is automatic:
        #: :meth:`_handle_bodies` then runs it inline (the common case, the fast path).
        self._body_handler = (
            input_.on_message_callback
            if input_.on_message_callback is not None
            and input_.pattern != "request"
            and policy.ack == "auto"
            and policy.handler_timeout_seconds is None
            and not input_.wants_envelope()
            else None
        )

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Take messages (again, after a drain)."""
        self._closing.clear()
        self.limiter.open()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    async def handle(self, deliveries: Iterable[Delivery]) -> int:
        """The one way into the delivery contract, for every transport: handle what the
        transport received, in order, in the caller's task.

        ``deliveries`` is one delivery of a queue (a task per delivery: aio-pika, in-memory) or
        an ordered run of one partition's records (Kafka: one call per fetched batch). The call
        first waits for one of the limiter's ``max_concurrency`` slots — the deliveries stay
        unacknowledged meanwhile, so the broker holds the rest (backpressure) — then decodes,
        handles (with retries) and settles each delivery in turn, and returns how many were
        settled for good (acknowledged, dead-lettered or rejected). It stops at the first
        delivery given back (requeued): the transport hands that one over again before anything
        after it, and keeps the ones not reached. Once :meth:`drain` began, the delivery in turn
        is requeued and the rest are left to the transport. Never raises but on cancel (then the
        message in hand is requeued).
        """
        limiter = self.limiter
        if not await limiter.acquire():
            for delivery in deliveries:
                await _quietly(delivery.nack(True), self.logger)
                break
            return 0
        done = 0
        try:
            if self._body_handler is not None and "_handle_one" not in self.__dict__:
                return (await self._handle_bodies(deliveries))[0]
            closing = self._closing
            final = _FINAL
            for delivery in deliveries:
                if closing.is_set():
                    await _quietly(delivery.nack(True), self.logger)
                    break
                if await self._handle_one(delivery) not in final:
                    break
                done += 1
        finally:
            limiter.release()
        return done

    async def _handle_bodies(self, deliveries: Iterable[Delivery]) -> tuple[int, Settlement | None]:
        """:meth:`handle`'s loop in the common case (a handler taking the body, automatic
        acknowledgement): decode, call the handler inline, acknowledge, with the in-flight
        bookkeeping once per call rather than per delivery — a run of a Kafka partition's
        records costs one coroutine per record, the handler's. A failure takes the general path
        (:meth:`_handle`). Returns how many were settled for good, and the settlement of the
        last one reached (what :meth:`_handle_one` returns)."""
        handler = self._body_handler
        assert handler is not None
        decode, closing, meters = self._decode, self._closing, self.meters
        # A run settled by position (Kafka's) needs no ack() per record; meters off: no clock.
        ack_each, timed = not isinstance(deliveries, PositionalRun), meters.recording
        done = 0
        last: Settlement | None = Settlement.ACKED
        self.in_flight += 1
        self._idle.clear()
        try:
            for delivery in deliveries:
                if closing.is_set():
                    await _quietly(delivery.nack(True), self.logger)
                    last = None
                    break
                try:
                    body = decode(delivery.body)
                except Exception as error:
                    last = await self._undecodable(delivery, error)
                    if last not in _FINAL:
                        break
                    done += 1
                    continue
                started = perf_counter() if timed else 0.0
                try:
                    await handler(body)
                except asyncio.CancelledError:
                    await _quietly(delivery.nack(True), self.logger)
                    raise
                except Exception as error:
                    message = Message(delivery, body, self.input, 1)
                    last = await self._guarded(self._handle(message, (error, started)), message)
                    if last not in _FINAL:
                        break
                    done += 1
                    continue
                if timed:
                    meters.handled(perf_counter() - started)
                self.handled += 1
                if ack_each:
                    await delivery.ack()
                last = Settlement.ACKED
                done += 1
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()
        return done, last

    async def _handle_one(self, delivery: Delivery) -> Settlement | None:
        """Decode, handle (with retries) and settle one delivery (see the module doc); what
        :meth:`handle` calls per delivery when the fast path does not apply (tracing wraps it)."""
        if self._body_handler is not None:
            return (await self._handle_bodies((delivery,)))[1]
        self.in_flight += 1
        self._idle.clear()
        try:
            try:
                body = self._decode(delivery.body)
            except Exception as error:
                return await self._undecodable(delivery, error)
            message = Message(delivery, body, self.input, 1)
            if self._call is None:
                return await self._guarded(self._hand_to_iterator(message), message)
            return await self._guarded(self._handle(message), message)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def _undecodable(self, delivery: Delivery, error: Exception) -> Settlement | None:
        self.failed += 1
        self.meters.failed.inc()
        if isinstance(error, payloads.PayloadValidationError):
            self.invalid += 1
            self.meters.invalid.inc()
            self.logger.warning(
                "input %s: message from %s is invalid (%s), dead-lettering it",
                self.input.name,
                delivery.source,
                error,
            )
        else:
            self.logger.error(
                "input %s: message from %s is undecodable (%s), dead-lettering it",
                self.input.name,
                delivery.source,
                error,
            )
        message = Message(delivery, None, self.input, 1)
        return await self._guarded(self._dead_letter(message, error), message)

    async def _guarded(self, settling: Awaitable[Settlement | None], message: Message) -> Settlement | None:
        """Await ``settling``; if cancelled first, requeue ``message`` (unless already settled)."""
        try:
            return await settling
        except asyncio.CancelledError:
            if message.settlement is None:
                await _quietly(message.nack(True), self.logger)
            raise

    async def _handle(self, message: Message, failure: tuple[Exception, float] | None = None) -> Settlement | None:
        """Call the handler until it returns or the retries run out; ``failure``: the first
        attempt already failed (the error and when it started)."""
        call = self._call
        assert call is not None
        policy = self.policy
        manual = policy.ack == "manual"
        timer = self.timer if policy.handler_timeout_seconds is not None else None
        while True:
            if failure is None:
                started = perf_counter()
                try:
                    if timer is None:
                        await call(message)
                    else:
                        await timer.run(lambda: call(message))
                except Exception as raised:
                    failure = (raised, started)
            if failure is not None:
                error, started = failure
                failure = None
                self.meters.duration.observe(perf_counter() - started)
                self.failed += 1
                self.meters.failed.inc()
                if manual and message.settlement is not None:
                    self.logger.error(
                        "input %s: handler failed after settling the message (%s): %s",
                        self.input.name,
                        message.settlement.value,
                        error,
                        exc_info=error,
                    )
                    return message.settlement
                if message.attempt < policy.retry.attempts and not self._closing.is_set():
                    delay = policy.retry.delay(message.attempt)
                    self.meters.retried.inc()
                    tracing.current_span_event(
                        "tamarco.retry",
                        {
                            "tamarco.attempt": message.attempt,
                            "error.type": type(error).__qualname__,
                            "tamarco.retry.delay": delay,
                        },
                    )
                    self.logger.warning(
                        "input %s: handler failed on attempt %d of %d (%s: %s); retrying in %.3g s",
                        self.input.name,
                        message.attempt,
                        policy.retry.attempts,
                        type(error).__name__,
                        error,
                        delay,
                    )
                    if await self._wait_or_closing(delay):
                        await message.nack(True)
                        return message.settlement
                    message.attempt += 1
                    continue
                if self._closing.is_set() and message.attempt < policy.retry.attempts:
                    await message.nack(True)  # not given its retries: another consumer will
                    return message.settlement
                self.logger.error(
                    "input %s: handler failed %d time(s) on a message from %s, dead-lettering it: %s: %s",
                    self.input.name,
                    message.attempt,
                    message.source,
                    type(error).__name__,
                    error,
                    exc_info=error,
                )
                return await self._dead_letter(message, error)
            self.meters.handled(perf_counter() - started)
            self.handled += 1
            if not manual:
                await message.ack()
            elif message.settlement is None:
                self.logger.warning(
                    "input %s is in manual ack mode but the handler returned without settling the "
                    "message; requeueing it",
                    self.input.name,
                )
                await message.nack(True)
            return message.settlement

    async def _wait_or_closing(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; True if the consumer began closing meanwhile. ``within``, not
        ``wait_for``: a drain's cancellation of the handler arriving as the closing wakes this
        wait is not swallowed (3.11's ``wait_for`` returned, and the handler went on)."""
        if delay <= 0:
            return self._closing.is_set()
        try:
            await within(self._closing.wait(), delay)
        except TimeoutError:
            return False
        return True

    async def _dead_letter(self, message: Message, error: BaseException) -> Settlement | None:
        tracing.current_span_event(
            "tamarco.dead_letter",
            {
                "tamarco.attempt": message.attempt,
                "error.type": type(error).__qualname__,
                "tamarco.dead_letter": self.policy.dead_letter,
            },
        )
        if not self.policy.dead_letter:
            self.logger.error(
                "input %s: rejecting the message (dead_letter is false): the broker drops it "
                "or applies its own dead-letter rules",
                self.input.name,
            )
            await message.reject()
            return message.settlement
        headers = dict(message.headers)
        text = f"{type(error).__name__}: {error}"
        headers.update(
            {
                "x-tamarco-error": text[:_MAX_ERROR_TEXT],
                "x-tamarco-error-type": type(error).__name__,
                "x-tamarco-attempts": message.attempt,
                "x-tamarco-source": message.source,
                "x-tamarco-input": str(self.input.name),
                "x-tamarco-dead-lettered-at": time.time(),
            }
        )
        if isinstance(error, payloads.PayloadValidationError):
            headers.update(error.headers())
        # A refused dead letter is tried again after a growing delay, the message in hand (see
        # _stalls); only a stop gives it back to the broker.
        delivery = message.delivery
        if not await self.dead_letters.publish(
            lambda: self.transport.dead_letter(self.input, delivery, headers), headers, self._wait_or_closing
        ):
            await _quietly(message.nack(True), self.logger)
            return message.settlement
        self.dead_lettered += 1
        self.meters.dead_lettered.inc()
        await message.ack()
        message.settlement = Settlement.DEAD_LETTERED
        return message.settlement

    async def _hand_to_iterator(self, message: Message) -> Settlement | None:
        if self._closing.is_set():
            await message.nack(True)
            return message.settlement
        released: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        message.released = released
        await self.input.iter_queue.put(message)
        handled = await released
        if not handled:
            await message.nack(True)
        elif self.policy.ack == "auto" or message.settlement is None:
            self.handled += 1
            self.meters.consumed.inc()
            if self.policy.ack == "auto":
                await message.ack()
            else:
                self.logger.warning(
                    "input %s is in manual ack mode but the message was not settled before the next "
                    "one was asked for; requeueing it",
                    self.input.name,
                )
                await message.nack(True)
        return message.settlement

    # -- stopping -----------------------------------------------------------------------------

    async def drain(self, timeout: float) -> int:
        """Stop taking messages and let the running handlers finish for up to ``timeout`` s.

        Returns how many were still running when the deadline came (those are cancelled and
        their messages requeued)."""
        self._closing.set()
        self.limiter.close()  # the deliveries waiting for a slot go back to the broker now
        self._requeue_iterator_messages()
        unfinished = 0
        if self.in_flight:
            with contextlib.suppress(TimeoutError):
                await within(self._idle.wait(), timeout)
            unfinished = self.in_flight
            if unfinished:
                self.logger.warning(
                    "input %s: %d handler(s) still running after the %g s drain; cancelling them, "
                    "their messages go back to the queue",
                    self.input.name,
                    unfinished,
                    timeout,
                )
        self.meters.close()  # what was handled while draining reaches the final report
        return unfinished

    def _requeue_iterator_messages(self) -> None:
        """``async for`` consumers are tasks, stopped before the resources: what they hold or
        have not taken yet was not handled, so it goes back to the queue."""
        input_ = self.input
        held, input_._held = input_._held, None
        pending = [held] if held is not None else []
        queue = input_._iter_queue
        while queue is not None and not queue.empty():
            pending.append(queue.get_nowait())
        for message in pending:
            released = message.released
            if released is not None and not released.done():
                released.set_result(False)
        input_._iter_queue = None  # bound to this loop; the next start (maybe another loop) makes its own

    def statistics(self) -> dict[str, Any]:
        """For ``/status``: the policy and counts of this input."""
        return {
            "source": self.input.source,
            "pattern": self.input.pattern,
            "max_concurrency": self.policy.max_concurrency,
            "in_flight": self.in_flight,
            "handled": self.handled,
            "failed": self.failed,
            "dead_lettered": self.dead_lettered,
            "invalid": self.invalid,
            **self.dead_letters.statistics(),
            **self.timer.statistics(),
        }


async def _quietly(settling: Awaitable[None], logger: logging.Logger) -> None:
    """Settle a message during a stop or an error path, logging (not raising) a broker failure:
    an unsettled message is delivered again by the broker, so nothing is lost."""
    try:
        await settling
    except asyncio.CancelledError:
        raise
    except Exception as error:
        logger.warning("could not settle a message with the broker (%s); it will be delivered again", error)

"""A logging handler that never waits for the network.

``emit`` formats the record in the caller (so later mutation of its arguments does not
matter) and appends the bytes to a bounded queue; a sender task on the event loop takes
batches from it and hands them to a :class:`Transport`. Nothing in ``emit`` does I/O.

- Queue full: the record is dropped and counted. The count is reported by a warning on the
  ``tamarco.logging`` logger (at most once per ``report_interval``, and when the handler
  closes) and by the counter ``tamarco_logging_dropped_records`` labelled with the handler's
  name, recorded through :mod:`tamarco.core.instrumentation` (exported when tamarco-metrics is
  installed).
- Transport error: the batch is kept and retried with exponential backoff (the transport
  reconnects); one warning when the outage starts, one info line when it ends.
- A batch the endpoint rejects for good (:class:`BatchRejected`, e.g. HTTP 400) is dropped,
  counted and reported: retrying it would block every record behind it.
- ``emit`` may be called from any thread: other threads wake the sender through
  ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from tamarco.core import instrumentation

__all__ = ["BatchRejected", "BatchingQueuedHandler", "HandlerStatistics", "QueuedHandler", "Transport"]

logger = logging.getLogger("tamarco.logging")

#: The extra field naming the handler on the framework's own records about a handler.
HANDLER_FIELD = "logging_handler"


class BatchRejected(Exception):
    """The endpoint refused a batch for good (retrying the same bytes cannot succeed).

    ``count`` is how many records of the batch were refused (all of them when ``None``);
    the others were sent.
    """

    def __init__(self, message: str, count: int | None = None) -> None:
        super().__init__(message)
        self.count = count


class Transport(Protocol):
    """Ships batches of encoded records somewhere. Implementations reconnect on their own."""

    #: Where records go, safe to log (no password).
    description: str
    #: Optional: strings (passwords) to mask in error messages, as ``secrets: tuple[str, ...]``.

    async def send(self, batch: list[bytes]) -> None:
        """Send ``batch``; raise on failure (:class:`BatchRejected` when retrying is useless)."""

    async def close(self) -> None:
        """Release connections; ``send`` may be called again afterwards (it reconnects)."""


@dataclass(frozen=True)
class HandlerStatistics:
    """A snapshot of a queued handler's counters."""

    queued: int
    sent: int
    dropped: int
    rejected: int
    send_errors: int
    in_outage: bool


class QueuedHandler(logging.Handler):
    """Bounded queue in front of a :class:`Transport`, drained by an asyncio task.

    Call :meth:`start` from the event loop before records matter (records emitted before
    that wait in the queue), and ``await aclose()`` to flush and stop.
    """

    #: Records taken from the queue per send (transports may batch them in one request).
    batch_size = 500
    #: Seconds between two drop reports.
    report_interval = 10.0
    #: Backoff between retries after an error, doubled up to the maximum.
    retry_initial = 0.1
    retry_maximum = 5.0

    def __init__(self, name: str, transport: Transport, *, queue_size: int = 10_000) -> None:
        super().__init__()
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.name = name
        self.handler_name = name
        self.transport = transport
        self.queue_size = queue_size
        self._queue: collections.deque[bytes] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wakeup: asyncio.Event | None = None
        self._closing_event: asyncio.Event | None = None
        self._wake_pending = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._sent = 0
        # Two counters so that no increment races: emit() (any thread, under the handler's
        # lock) counts records refused at the door, the sender (event loop) the rest.
        self._refused = 0
        self._lost = 0
        self._dropped_reported = 0
        self._last_report = 0.0
        self._rejected = 0
        self._send_errors = 0
        self._outage_started: float | None = None
        self._counter: Any = None
        self._in_flight: list[bytes] = []

    # -- producer side (any thread) ----------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if len(self._queue) >= self.queue_size or self._closing:
            self._refused += 1
            return
        try:
            payload = self.format(record).encode("utf-8", "backslashreplace")
        except Exception:
            self.handleError(record)
            return
        self._queue.append(payload)
        self._wake()

    def _wake(self) -> None:
        if self._loop is None or self._wake_pending:
            return
        self._wake_pending = True
        if threading.get_ident() == self._loop_thread:
            self._set_wakeup()
        else:
            try:
                self._loop.call_soon_threadsafe(self._set_wakeup)
            except RuntimeError:  # the loop is closed: records stay queued
                self._wake_pending = False

    def _set_wakeup(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    # -- sender side (event loop) ------------------------------------------------------

    def start(self) -> None:
        """Start the sender task on the running loop."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._closing_event = asyncio.Event()
        self._counter = _dropped_counter(self.handler_name)
        self._task = self._loop.create_task(self._run(), name=f"tamarco:logging:{self.name}")
        if self._queue:
            self._wake_pending = True
            self._wakeup.set()

    async def _next_batch(self) -> list[bytes] | None:
        """Wait for records; ``None`` once closing with nothing left."""
        if await self._next_batch_started() is None:
            return None
        return self._take(self.batch_size)

    async def _next_batch_started(self) -> float | None:
        """Wait until a record is queued; its ``monotonic`` time, ``None`` if closing."""
        assert self._wakeup is not None
        while not self._queue:
            if self._closing:
                return None
            self._wakeup.clear()
            self._wake_pending = False
            if self._queue:
                break
            await self._wait_wakeup(self.report_interval)
            self._report_drops()
        return time.monotonic()

    def _take(self, count: int) -> list[bytes]:
        queue = self._queue
        return [queue.popleft() for _ in range(min(count, len(queue)))]

    async def _wait_wakeup(self, timeout: float | None) -> bool:
        assert self._wakeup is not None
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _run(self) -> None:
        while True:
            try:
                batch = await self._next_batch()
                if batch is None:
                    return
                self._in_flight = batch
                await self._send_with_retry(batch)
                self._in_flight = []
                self._report_drops()
                # Let the loop breathe between batches when the queue stays full.
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug (in a transport?) must not stop the sender for good
                self._lost += len(self._in_flight)
                self._in_flight = []
                logger.exception("logging handler %s: sender failed", self.name, extra=self._internal())
                await self._wait_closing(self.retry_maximum)

    async def _send_with_retry(self, batch: list[bytes]) -> None:
        delay = self.retry_initial
        while True:
            try:
                await self.transport.send(batch)
            except asyncio.CancelledError:
                raise
            except BatchRejected as error:
                refused = len(batch) if error.count is None else min(error.count, len(batch))
                self._rejected += refused
                self._lost += refused
                self._sent += len(batch) - refused
                logger.warning(
                    "logging handler %s: %s rejected %d records: %s",
                    self.name,
                    self.transport.description,
                    refused,
                    self._redact(str(error)),
                    extra=self._internal(),
                )
                return
            except Exception as error:
                self._send_errors += 1
                if self._outage_started is None:
                    self._outage_started = time.monotonic()
                    logger.warning(
                        "logging handler %s cannot send to %s (%s: %s); retrying, records are "
                        "kept up to queue_size %d and dropped beyond",
                        self.name,
                        self.transport.description,
                        type(error).__name__,
                        self._redact(str(error)),
                        self.queue_size,
                        extra=self._internal(),
                    )
                await _close_quietly(self.transport)
                self._report_drops()
                if self._closing:
                    self._lost += len(batch)
                    return
                await self._wait_closing(delay)
                delay = min(delay * 2, self.retry_maximum)
                continue
            self._sent += len(batch)
            if self._outage_started is not None:
                logger.info(
                    "logging handler %s reconnected to %s after %.1f s",
                    self.name,
                    self.transport.description,
                    time.monotonic() - self._outage_started,
                    extra=self._internal(),
                )
                self._outage_started = None
            return

    async def _wait_closing(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less when the handler starts closing."""
        assert self._closing_event is not None
        try:
            await asyncio.wait_for(self._closing_event.wait(), delay)
        except TimeoutError:
            pass

    @property
    def _dropped(self) -> int:
        return self._refused + self._lost

    def _report_drops(self, force: bool = False) -> None:
        dropped = self._dropped
        new = dropped - self._dropped_reported
        if new <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_report < self.report_interval:
            return
        self._dropped_reported = dropped
        self._last_report = now
        logger.warning(
            "logging handler %s dropped %d records (%d in total: %d with its queue full at "
            "queue_size %d, %d not delivered to %s)",
            self.name,
            new,
            dropped,
            self._refused,
            self.queue_size,
            self._lost,
            self.transport.description,
            extra=self._internal(),
        )
        if self._counter is not None:
            try:
                self._counter.inc(new)
            except Exception as error:
                logger.debug("tamarco_logging_dropped_records not updated: %s", error)

    def _redact(self, text: str) -> str:
        """``text`` without the transport's secrets (an error message may echo them)."""
        for secret in getattr(self.transport, "secrets", ()):
            if secret:
                text = text.replace(secret, "********")
        return text

    def _internal(self) -> dict[str, Any]:
        return {HANDLER_FIELD: self.name}

    # -- lifecycle ---------------------------------------------------------------------

    def statistics(self) -> HandlerStatistics:
        """Counters since the handler was created."""
        return HandlerStatistics(
            queued=len(self._queue),
            sent=self._sent,
            dropped=self._dropped,
            rejected=self._rejected,
            send_errors=self._send_errors,
            in_outage=self._outage_started is not None,
        )

    async def aclose(self, timeout: float = 5.0) -> None:
        """Send what is queued (for at most ``timeout`` seconds), then stop and report drops."""
        self._closing = True
        if self._closing_event is not None:
            self._closing_event.set()
        task = self._task
        if task is not None and not task.done():
            if self._wakeup is not None:
                self._wakeup.set()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                self._lost += len(self._in_flight)
                self._in_flight = []
        self._lost += len(self._queue)
        self._queue.clear()
        await _close_quietly(self.transport)
        self._report_drops(force=True)
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} -> {self.transport.description}>"


async def _close_quietly(transport: Transport) -> None:
    try:
        await transport.close()
    except Exception as error:
        logger.debug("closing %s failed: %s", transport.description, error)


def _dropped_counter(handler_name: str) -> instrumentation.BoundCounter | None:
    """The ``tamarco_logging_dropped_records`` counter of a handler (a no-op without an
    instrumentation implementation such as tamarco-metrics)."""
    try:
        dropped = instrumentation.counter("tamarco_logging_dropped_records", "records", labels=("handler",))
        return dropped.labels(handler=handler_name)
    except Exception as error:
        logger.debug("tamarco_logging_dropped_records not available: %s", error)
        return None


class BatchingQueuedHandler(QueuedHandler):
    """A :class:`QueuedHandler` that sends a batch when it holds ``max_records`` records or
    when its oldest record has waited ``max_time_seconds``, whichever comes first."""

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        queue_size: int = 10_000,
        max_records: int = 100,
        max_time_seconds: float = 5.0,
    ) -> None:
        super().__init__(name, transport, queue_size=queue_size)
        if max_records < 1 or max_time_seconds <= 0:
            raise ValueError("max_records must be >= 1 and max_time_seconds > 0")
        self.max_records = max_records
        self.max_time_seconds = max_time_seconds

    async def _next_batch(self) -> list[bytes] | None:
        assert self._wakeup is not None
        first = await self._next_batch_started()
        if first is None:
            return None
        deadline = first + self.max_time_seconds
        while len(self._queue) < self.max_records and not self._closing:
            self._wakeup.clear()
            self._wake_pending = False
            if len(self._queue) >= self.max_records:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._wait_wakeup(remaining):
                break
        return self._take(self.max_records)

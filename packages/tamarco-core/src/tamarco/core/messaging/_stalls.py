"""What holds a consumer's slots longer than it should: handlers past their deadline, and
dead letters the broker refuses. Each is bounded, counted for ``/status`` and logged sparingly.

- :class:`HandlerTimer`: with ``handler_timeout_seconds`` set, a handler is cancelled at its
  deadline and the failure is a :class:`~tamarco.core.messaging.errors.HandlerTimeoutError`
  (retried, then dead-lettered). A handler still running past its deadline (it ignored the
  cancellation) is *stuck*: ``/status`` shows it and readiness can fail on it
  (``health.not_ready_when: [handler_stuck]``).
- :class:`DeadLetterRetries`: a dead letter the broker refuses (a full or missing dead-letter
  queue, a broker outage) is not requeued at once — that cycles the message through the broker
  and its retries many times a second. The message stays in hand, unsettled (a crash still
  leaves it to the broker: nothing is lost), and the publish is tried again after a growing,
  bounded delay; the handler is not called again. One log line per interval, not per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tamarco.core.messaging.errors import HandlerTimeoutError

__all__ = ["DEAD_LETTER_FIRST_DELAY", "DEAD_LETTER_LOG_INTERVAL", "DeadLetterRetries", "HandlerTimer"]

T = TypeVar("T")

#: Seconds before the first new try of a refused dead letter; each failure doubles it.
DEAD_LETTER_FIRST_DELAY = 0.5
#: At most one log line per input this often (seconds) while dead letters are refused.
DEAD_LETTER_LOG_INTERVAL = 30.0


class HandlerTimer:
    """Runs handlers under a deadline and knows which run past it."""

    def __init__(self, input_name: str, timeout: float | None) -> None:
        self.input_name = input_name
        self.timeout = timeout
        self.timed_out = 0
        self._running: dict[object, float] = {}

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()`` (the handler) in this task, cancelled after ``timeout`` seconds."""
        timeout = self.timeout
        if timeout is None:
            return await call()
        task = asyncio.current_task()
        assert task is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        deadline = asyncio.get_running_loop().call_later(timeout, expire)
        token = object()
        self._running[token] = time.monotonic()
        try:
            result = await call()
        except asyncio.CancelledError:
            if expired and not _cancelled_by_others(task):
                self.timed_out += 1
                raise HandlerTimeoutError(
                    f"input {self.input_name}: the handler did not finish within {timeout:g} s "
                    "(handler_timeout_seconds) and was cancelled"
                ) from None
            raise
        finally:
            deadline.cancel()
            del self._running[token]
        if expired:  # the handler swallowed the cancellation and returned: take ours back
            _cancelled_by_others(task)
        return result

    def stuck(self) -> list[float]:
        """How long (seconds) each handler still running past its deadline has run."""
        timeout = self.timeout
        if timeout is None or not self._running:
            return []
        now = time.monotonic()
        return sorted((now - started for started in self._running.values() if now - started > timeout), reverse=True)

    def statistics(self) -> dict[str, Any]:
        if self.timeout is None:
            return {}
        stuck = self.stuck()
        info: dict[str, Any] = {"handler_timeout_seconds": self.timeout, "timed_out": self.timed_out}
        info["stuck"] = len(stuck)
        if stuck:
            info["stuck_longest_seconds"] = round(stuck[0], 3)
        return info


def _cancelled_by_others(task: asyncio.Task[Any]) -> bool:
    """Take back the timer's own cancellation of ``task``; whether another one is pending (a stop)."""
    return task.uncancel() > 0


class DeadLetterRetries:
    """The state of one input's refused dead letters: delays, counts, the log's pace."""

    def __init__(self, input_name: str, logger: logging.Logger, max_delay: float) -> None:
        self.input_name = input_name
        self.logger = logger
        self.max_delay = max(max_delay, DEAD_LETTER_FIRST_DELAY)
        self.failures = 0
        self.waiting = 0
        self.last_error: str | None = None
        self._logged_at: float | None = None
        self._unlogged = 0

    def delay(self, failures: int) -> float:
        """Seconds before the next try after ``failures`` refusals of one message."""
        return float(min(self.max_delay, DEAD_LETTER_FIRST_DELAY * 2 ** (failures - 1)))

    def refused(self, error: BaseException, failures: int) -> float:
        """Count a refusal (the ``failures``-th of one message), log it if the interval passed,
        and return the delay before the next try."""
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"
        delay = self.delay(failures)
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < DEAD_LETTER_LOG_INTERVAL:
            self._unlogged += 1
            return delay
        since = f"; {self._unlogged} more refusal(s) since the last report" if self._unlogged else ""
        self.logger.error(
            "input %s: could not dead-letter a message (%s); it stays unsettled and is tried again in "
            "%.3g s (try %d, %d message(s) waiting%s)",
            self.input_name,
            self.last_error,
            delay,
            failures,
            self.waiting + 1,
            since,
        )
        self._logged_at = now
        self._unlogged = 0
        return delay

    async def publish(
        self,
        send: Callable[[], Awaitable[None]],
        headers: dict[str, Any],
        closing_within: Callable[[float], Awaitable[bool]],
    ) -> bool:
        """Publish a dead letter with ``send()`` (which sends ``headers``). A refusal is tried
        again after a growing, bounded delay, the message kept in hand; False when
        ``closing_within(delay)`` tells the consumer began closing first (the caller then gives
        the message back to the broker)."""
        refusals = 0
        while True:
            try:
                await send()
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:
                refusals += 1
                delay = self.refused(error, refusals)
                self.waiting += 1
                try:
                    closing = await closing_within(delay)
                finally:
                    self.waiting -= 1
                if closing:
                    return False
                headers["x-tamarco-dead-letter-attempts"] = refusals + 1
        self.accepted(refusals)
        return True

    def accepted(self, failures: int) -> None:
        """A dead letter went through after ``failures`` refusals."""
        if failures and self.waiting == 0:
            self.logger.info(
                "input %s: dead letters are accepted again (the last one after %d refusal(s))",
                self.input_name,
                failures,
            )
            self._logged_at = None
            self._unlogged = 0

    def statistics(self) -> dict[str, Any]:
        info: dict[str, Any] = {"dead_letter_refusals": self.failures, "dead_letters_waiting": self.waiting}
        if self.last_error is not None:
            info["last_dead_letter_error"] = self.last_error
        return info

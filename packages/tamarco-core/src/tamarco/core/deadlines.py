"""Bounded waits and backoff: nothing Tamarco awaits on a broker, etcd or a client library
waits forever, and a cancellation is never swallowed.

Why not ``asyncio.timeout`` or ``asyncio.wait_for``: neither holds its deadline when the awaited
call ignores a cancellation (gRPC calls being closed can, aiokafka's ``stop`` with the broker
gone does), and ``wait_for`` before Python 3.12 can swallow the caller's own cancellation when it
arrives as the call completes: the soak-run hang of ``settings.stop()`` (regression test in
``tests/unit/etcd/test_deadlines.py``). :func:`within` runs the call in a task of its own and
waits on that task, which avoids both. :func:`close_within` is the same for closing a client,
where a failure is only worth a log line. :class:`Backoff` is the one retry schedule (etcd,
brokers' connection attempts).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["AwaitableCancelled", "Backoff", "close_within", "within"]

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: float, discard: Callable[[T], Awaitable[Any]] | None = None) -> T:
    """``awaitable``'s result, or ``asyncio.TimeoutError`` after ``timeout`` seconds.

    Unlike ``asyncio.wait_for`` before Python 3.12, a cancellation of the caller that arrives
    as ``awaitable`` completes is never swallowed (3.11's ``wait_for`` then returns the result
    and the task goes on as if it had not been cancelled), and the deadline holds even if the
    awaitable itself ignores a cancellation: it runs in a task of its own. A result that
    comes after the caller gave up is handed to ``discard`` (to cancel a watch nobody reads).
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(task, discard)
        raise
    if not done:
        _abandon(task, discard)
        raise TimeoutError
    if task.cancelled():
        # Not this caller's cancellation (that one raised above): the awaitable's, such as a
        # gRPC call cancelled because another task closed its channel.
        raise AwaitableCancelled
    return task.result()


class AwaitableCancelled(ConnectionError):
    """What :func:`within` awaited was cancelled from elsewhere (its caller was not)."""


def _abandon(task: asyncio.Future[T], discard: Callable[[T], Awaitable[Any]] | None) -> None:
    task.cancel()

    def done(task: asyncio.Future[T]) -> None:
        if task.cancelled() or task.exception() is not None:
            return  # the exception is retrieved: no "never retrieved" log
        if discard is not None:
            cleanup = asyncio.ensure_future(discard(task.result()))
            cleanup.add_done_callback(lambda f: f.cancelled() or f.exception())

    task.add_done_callback(done)


async def close_within(closing: Coroutine[Any, Any, Any], timeout: float) -> str | None:
    """Run ``closing`` (a client's ``stop()``/``close()``) for up to ``timeout`` seconds, in a
    task of its own; ``None`` when it finished cleanly, else why not (``"timed out after N s"``,
    ``"cancelled inside the client"`` or the error) for the caller to log. The task is cancelled
    and awaited past the deadline; a cancellation of the caller still propagates."""
    task = asyncio.get_running_loop().create_task(closing)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return f"timed out after {timeout:g} s"
    if task.cancelled():
        return "cancelled inside the client"
    error = task.exception()
    return None if error is None else f"{type(error).__name__}: {error}"


class Backoff:
    """Exponential backoff between attempts (at reaching etcd, a broker...): 0.1 s, 0.2 s,
    0.4 s... 2 s by default.

    :meth:`reset` after a success; :meth:`sleep` waits the next delay (never past ``limit``).
    """

    def __init__(self, first: float = 0.1, maximum: float = 2.0) -> None:
        self.first = first
        self.maximum = maximum
        self.delay = first

    def reset(self) -> None:
        self.delay = self.first

    def next_delay(self) -> float:
        """The delay to wait now; the following one doubles (up to :attr:`maximum`)."""
        delay = self.delay
        self.delay = min(delay * 2, self.maximum)
        return delay

    async def sleep(self, limit: float | None = None) -> None:
        """Wait the next delay, at most ``limit`` seconds (a deadline's remaining time)."""
        delay = self.next_delay()
        await asyncio.sleep(delay if limit is None else min(delay, max(0.0, limit)))

"""The concurrency bound of one input: at most ``size`` handlers at once, the rest wait.

Every transport reaches the handlers through :meth:`Consumer.handle
<tamarco.core.messaging.Consumer.handle>`, which holds one of these slots while it handles what
it was given; a transport whose deliveries wait here keeps them unacknowledged, so the broker
holds the rest (backpressure). Unlike an ``asyncio.Semaphore``, closing the limiter turns every
waiter away at once: on stop, the messages that were waiting go back to the broker without
waiting for the running handlers.
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["ConcurrencyLimiter"]


class ConcurrencyLimiter:
    """``size`` slots, handed out first come, first served; :meth:`close` refuses the waiters."""

    __slots__ = ("_free", "_waiters", "closed", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a concurrency limit must be >= 1, got {size!r}")
        self.size = size
        self.closed = False
        self._free = size
        self._waiters: collections.deque[asyncio.Future[bool]] = collections.deque()

    @property
    def in_use(self) -> int:
        return self.size - self._free

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiters if not waiter.done())

    async def acquire(self) -> bool:
        """Wait for a slot: True once the caller holds one (give it back with :meth:`release`),
        False if the limiter is (or becomes) closed while waiting."""
        if self.closed:
            return False
        if self._free and not self._waiters:
            self._free -= 1
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # handed a slot just as the caller was cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter, or to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1

    def close(self) -> None:
        """Refuse every waiter (their :meth:`acquire` returns False) and every later caller."""
        self.closed = True
        waiters, self._waiters = self._waiters, collections.deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(False)

    def open(self) -> None:
        """Hand out slots again (a restart after :meth:`close`)."""
        self.closed = False

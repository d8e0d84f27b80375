"""Event-loop lag, measured by a task that sleeps for a fixed interval and times its wake-up.

A blocked loop cannot answer an HTTP probe while it is blocked, so the lag is what the loop
*was* doing: the worst lag over a recent window, including the wake-up that is overdue right
now (the probe may be served before the monitor's own wake-up after a block).
"""

from __future__ import annotations

import asyncio
import collections

__all__ = ["LoopLagMonitor"]


class LoopLagMonitor:
    """Samples the loop lag every ``interval`` seconds and keeps ``window`` seconds of samples."""

    def __init__(self, interval: float = 0.25, window: float = 10.0) -> None:
        self.interval = interval
        self.window = window
        self.samples = 0
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        #: The samples of the window that no later sample beats (lags decreasing): the first
        #: one is the window's worst, so a health probe reads it without a scan.
        self._maxima: collections.deque[tuple[float, float]] = collections.deque()
        self._expected_wakeup: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start sampling on the running loop (idempotent)."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name="tamarco:status:loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._expected_wakeup = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            interval = self.interval
            self._expected_wakeup = loop.time() + interval
            await asyncio.sleep(interval)
            now = loop.time()
            self._record(now, max(0.0, now - self._expected_wakeup))

    def _record(self, now: float, lag: float) -> None:
        self.samples += 1
        self._recent.append((now, lag))
        while self._recent and now - self._recent[0][0] > self.window:
            self._recent.popleft()
        maxima = self._maxima
        while maxima and maxima[-1][1] <= lag:
            maxima.pop()
        maxima.append((now, lag))

    def current_lag(self) -> float:
        """How late the pending wake-up is right now (0 when it is not due yet)."""
        if self._expected_wakeup is None or self._loop is None:
            return 0.0
        return max(0.0, self._loop.time() - self._expected_wakeup)

    def last_lag(self) -> float:
        """The lag of the latest completed sample, or of the overdue one if worse."""
        last = self._recent[-1][1] if self._recent else 0.0
        return max(last, self.current_lag())

    def worst_lag(self) -> float:
        """The worst lag seen in the last ``window`` seconds, the overdue wake-up included."""
        worst = self.current_lag()
        if self._loop is not None:
            now = self._loop.time()
            maxima = self._maxima
            while maxima and now - maxima[0][0] > self.window:
                maxima.popleft()
            if maxima and maxima[0][1] > worst:
                worst = maxima[0][1]
        return worst

"""The Summary meter: count, sum and quantiles over a sliding time window.

The window is ``age_buckets`` buckets of ``window_seconds / age_buckets`` seconds each; every
bucket keeps at most ``max_samples`` observations in an ``array('d')`` by reservoir sampling
(algorithm L: once a bucket is full, only a countdown runs between two replacements), so an
observation costs one clock read, one lock and one ``append`` on the hot path.
"""

from __future__ import annotations

import math
import random
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from tamarco.resources.basic.metrics._meters import (
    DEFAULT_AGE_BUCKETS,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_QUANTILES,
    DEFAULT_WINDOW_SECONDS,
    BaseMeter,
)
from tamarco.resources.basic.metrics._naming import SUMMARY_RESERVED_LABELS
from tamarco.resources.basic.metrics._scope import MeterScope
from tamarco.resources.basic.metrics._timer import Timer

__all__ = ["Summary"]


class Summary(BaseMeter):
    """Observations (durations, sizes): cumulative count and sum, and quantiles over a window.

    The quantiles (default 0.5, 0.75, 0.9, 0.95, 0.99) are computed at export time over the
    observations of the last ``window_seconds`` (default: the ``summary_window_seconds``
    setting of the metrics resource, else 60 s), kept in ``age_buckets`` rotating buckets:
    an observation leaves the window between ``window*(1-1/age_buckets)`` and ``window``
    seconds after it was made. Up to ``max_samples`` observations per window are kept exactly;
    beyond that each bucket keeps a uniform random sample (reservoir sampling). Quantiles use
    the nearest-rank method, so they are always observed values; an empty window gives NaN.
    """

    __slots__ = (
        "_age_buckets",
        "_bucket_cap",
        "_buckets",
        "_clock",
        "_count",
        "_current",
        "_explicit_window",
        "_max_samples",
        "_period",
        "_room",
        "_rotate_at",
        "_skip",
        "_sum",
        "_weight",
        "_window",
        "quantiles",
    )
    meter_type: ClassVar[str] = "summary"
    reserved_labels: ClassVar[frozenset[str]] = SUMMARY_RESERVED_LABELS

    def __init__(
        self,
        name: str,
        unit: str,
        quantiles: Sequence[float] | None = None,
        labels: Mapping[str, Any] | None = None,
        *,
        window_seconds: float | None = None,
        age_buckets: int | None = None,
        max_samples: int = DEFAULT_MAX_SAMPLES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name, unit, labels)
        self.quantiles = _check_quantiles(name, DEFAULT_QUANTILES if quantiles is None else quantiles)
        if not isinstance(max_samples, int) or isinstance(max_samples, bool) or max_samples < 1:
            raise ValueError(f"summary {name!r}: max_samples must be a positive integer, got {max_samples!r}")
        self._max_samples = max_samples
        self._clock = clock
        self._count = 0
        self._sum = 0.0
        self._explicit_window = window_seconds is not None or age_buckets is not None
        self._init_kwargs = {
            "quantiles": self.quantiles,
            "window_seconds": window_seconds,
            "age_buckets": age_buckets,
            "max_samples": max_samples,
            "clock": clock,
        }
        self._reset_window(
            DEFAULT_WINDOW_SECONDS if window_seconds is None else window_seconds,
            DEFAULT_AGE_BUCKETS if age_buckets is None else age_buckets,
        )

    def _reset_window(self, window_seconds: float, age_buckets: int) -> None:
        if isinstance(window_seconds, bool) or not isinstance(window_seconds, (int, float)) or not window_seconds > 0:
            raise ValueError(f"summary {self.name!r}: window_seconds must be a positive number, got {window_seconds!r}")
        if isinstance(age_buckets, bool) or not isinstance(age_buckets, int) or age_buckets < 1:
            raise ValueError(f"summary {self.name!r}: age_buckets must be a positive integer, got {age_buckets!r}")
        self._window = float(window_seconds)
        self._age_buckets = age_buckets
        self._period = self._window / age_buckets
        self._bucket_cap = max(1, self._max_samples // age_buckets)
        self._buckets: deque[array[float]] = deque(maxlen=age_buckets)
        self._new_bucket()
        self._rotate_at = self._clock() + self._period

    def _adopt(self, scope: MeterScope, labels: dict[str, str]) -> None:
        super()._adopt(scope, labels)
        if not self._explicit_window and scope.summary_window_seconds is not None:
            self.configure_window(scope.summary_window_seconds, scope.summary_age_buckets or DEFAULT_AGE_BUCKETS)

    def configure_window(self, window_seconds: float, age_buckets: int = DEFAULT_AGE_BUCKETS) -> None:
        """Change the sliding window (the observations in the current window are dropped)."""
        lock = self._lock
        lock.acquire()
        try:
            self._reset_window(window_seconds, age_buckets)
        finally:
            lock.release()

    @property
    def window_seconds(self) -> float:
        return self._window

    @property
    def age_buckets(self) -> int:
        return self._age_buckets

    @property
    def has_explicit_window(self) -> bool:
        """True when the window was given to the constructor (settings do not change it)."""
        return self._explicit_window

    def observe(self, value: float) -> None:
        """Record one observation (a NaN is a ValueError: it would poison the quantiles)."""
        if value != value:
            raise ValueError(f"summary {self.name!r}: cannot observe NaN")
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now >= self._rotate_at:
                self._rotate(now)
            if self._room:
                self._current.append(value)
                self._room -= 1
            else:
                self._skip -= 1
                if self._skip < 0:
                    self._replace(value)
            self._count += 1
            self._sum += value
        finally:
            lock.release()

    def _new_bucket(self) -> None:
        """Start a fresh current bucket (the oldest one leaves the window)."""
        self._current = array("d")
        self._buckets.append(self._current)
        self._room = self._bucket_cap
        # Reservoir sampling, algorithm L (Li, 1994): once the bucket is full, skip a random
        # number of observations between replacements, so the hot path only counts down.
        self._weight = math.exp(math.log(_uniform()) / self._bucket_cap)
        self._skip = self._next_skip()

    def _next_skip(self) -> int:
        return math.floor(math.log(_uniform()) / math.log1p(-self._weight))

    def _replace(self, value: float) -> None:
        self._current[random.randrange(self._bucket_cap)] = value
        self._weight *= math.exp(math.log(_uniform()) / self._bucket_cap)
        self._skip = self._next_skip()

    def _rotate(self, now: float) -> None:
        periods = int((now - self._rotate_at) // self._period) + 1
        for _ in range(min(periods, self._age_buckets)):
            self._new_bucket()
        self._rotate_at += periods * self._period

    def observe_many(self, values: Sequence[float]) -> None:
        """Record several observations at once (same result as ``observe`` on each, in order).

        For code that batches its observations: count and sum are updated once, the window
        takes the values with one ``extend`` while it has room and the reservoir only visits
        the values it keeps. A NaN among them is a ValueError (nothing is recorded).
        """
        size = len(values)
        if not size:
            return
        total = sum(values, 0.0)
        if total != total and any(value != value for value in values):
            raise ValueError(f"summary {self.name!r}: cannot observe NaN")
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now >= self._rotate_at:
                self._rotate(now)
            index = 0
            room = self._room
            if room:
                index = min(room, size)
                self._current.extend(values[:index] if index < size else values)
                self._room = room - index
            while index < size:
                skip = self._skip
                left = size - index
                if skip >= left:
                    self._skip = skip - left
                    break
                index += skip  # the values before it are skipped, as observe() would
                self._replace(values[index])
                index += 1
            self._count += size
            self._sum += total
        finally:
            lock.release()

    def timeit(self) -> Timer:
        """A :class:`Timer` observing the duration in seconds of each block or call."""
        return Timer(self.observe)

    @property
    def count(self) -> int:
        """How many observations since start (cumulative, as in Prometheus)."""
        return self._count

    @property
    def sum(self) -> float:
        """The sum of every observation since start (cumulative)."""
        return self._sum

    def snapshot(self) -> tuple[int, float, dict[float, float]]:
        """``(count, sum, {quantile: value})``, consistent with each other."""
        now = self._clock()
        lock = self._lock
        lock.acquire()
        try:
            if now >= self._rotate_at:
                self._rotate(now)
            count, total = self._count, self._sum
            values = array("d")
            for bucket in self._buckets:
                values.extend(bucket)
        finally:
            lock.release()
        return count, total, _nearest_rank(sorted(values), self.quantiles)

    def quantile_values(self) -> dict[float, float]:
        """``{quantile: value}`` over the current window (NaN when it is empty)."""
        return self.snapshot()[2]

    def is_pristine(self) -> bool:
        return self._count == 0


def _uniform() -> float:
    """A uniform random number in (0, 1): never 0, whose logarithm is needed."""
    return random.random() or 5e-324


def _check_quantiles(name: str, quantiles: Sequence[float]) -> tuple[float, ...]:
    checked = []
    for quantile in quantiles:
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
            raise ValueError(f"summary {name!r}: quantile {quantile!r} is not a number between 0 and 1")
        checked.append(float(quantile))
    return tuple(sorted(set(checked)))


def _nearest_rank(values: Sequence[float], quantiles: Sequence[float]) -> dict[float, float]:
    size = len(values)
    if not size:
        return {quantile: math.nan for quantile in quantiles}
    result = {}
    for quantile in quantiles:
        rank = math.ceil(quantile * size - 1e-9)
        result[quantile] = values[min(max(rank, 1), size) - 1]
    return result

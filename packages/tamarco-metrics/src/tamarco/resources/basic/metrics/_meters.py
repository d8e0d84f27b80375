"""The meters: Counter, Gauge and Summary, flyweights per scope, name and labels.

The hot paths (``inc``, ``dec``, ``set``, ``observe``) only update plain Python floats under
a per-meter lock; nothing is formatted or allocated until an exporter collects. The lock
makes them exact from threads too (``@thread`` tasks, executors).
"""

from __future__ import annotations

import inspect
import logging
import math
import random
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from tamarco.core.patterns import FlyweightWithLabels
from tamarco.resources.basic.metrics._errors import MeterConflictError
from tamarco.resources.basic.metrics._naming import (
    SUMMARY_RESERVED_LABELS,
    check_meter_name,
    labels_key,
    normalize_labels,
)
from tamarco.resources.basic.metrics._scope import (
    GLOBAL_SCOPE,
    REGISTRY_LOCK,
    MeterFamily,
    MeterScope,
    current_scope,
    service_scopes,
)
from tamarco.resources.basic.metrics._timer import ExceptionMonitor, Timer, call_counter

__all__ = [
    "DEFAULT_AGE_BUCKETS",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_QUANTILES",
    "DEFAULT_WINDOW_SECONDS",
    "BaseMeter",
    "Counter",
    "Gauge",
    "MeterFlyweight",
    "Summary",
]

logger = logging.getLogger("tamarco.metrics")

M = TypeVar("M", bound="BaseMeter")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_QUANTILES: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95, 0.99)
DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_AGE_BUCKETS = 5
DEFAULT_MAX_SAMPLES = 10_000


class MeterFlyweight(FlyweightWithLabels):
    """:class:`~tamarco.core.patterns.FlyweightWithLabels` made scope-aware for meters.

    ``Counter("x", "u", labels=...)`` returns the meter already registered under that name and
    labels in the scope the name belongs to (see ``_scope``), or creates it there. A name is
    one family: one meter type and one unit, else :class:`MeterConflictError`.
    """

    def __init__(cls, name: str, bases: tuple[type, ...], dct: dict[str, Any]) -> None:
        super().__init__(name, bases, dct)
        cls._meter_signature = inspect.signature(cls.__init__)  # type: ignore[misc]

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._get_or_create(None, args, kwargs)

    def _get_or_create(cls, scope: MeterScope | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            bound = cls._meter_signature.bind(None, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{cls.__name__}(): {error}") from None
        name = check_meter_name(bound.arguments.get("name"))
        unit = bound.arguments.get("unit")
        if not isinstance(unit, str):
            raise TypeError(f"meter {name!r}: unit must be a string, not {type(unit).__name__}")
        labels = normalize_labels(name, bound.arguments.get("labels"), cls.reserved_labels)  # type: ignore[attr-defined]
        key = labels_key(labels)
        with REGISTRY_LOCK:
            if scope is None:
                scope = GLOBAL_SCOPE if name in GLOBAL_SCOPE.families else current_scope()
            family = scope.families.get(name)
            if family is None:
                cls._check_other_scopes(scope, name, unit)
                family = MeterFamily(name, cls, unit)  # type: ignore[arg-type]
            else:
                cls._check_family(family, name, unit)
                existing = family.meters.get(key)
                if existing is not None:
                    return existing
            meter = type.__call__(cls, *args, **kwargs)
            meter._adopt(scope, labels)
            family.meters[key] = meter
            scope.families[name] = family
            return meter

    def _check_family(cls, family: MeterFamily, name: str, unit: str) -> None:
        if family.meter_type is not cls or family.unit != unit:
            raise MeterConflictError(
                f"meter {name!r} already exists as a {family.meter_type.__name__} in unit {family.unit!r}: "
                f"cannot also be a {cls.__name__} in unit {unit!r}"
            )

    def _check_other_scopes(cls, scope: MeterScope, name: str, unit: str) -> None:
        if scope is not GLOBAL_SCOPE:
            return
        for other in service_scopes():
            family = other.families.get(name)
            if family is not None:
                cls._check_family(family, name, unit)
                logger.warning(
                    "meter %r is created process-wide while service %s already has its own; "
                    "that service keeps exporting its own",
                    name,
                    other.name,
                )


class BaseMeter(metaclass=MeterFlyweight):
    """What every meter has: ``name``, ``unit``, ``labels`` and :meth:`new_labels`."""

    __slots__ = ("__weakref__", "_children", "_init_kwargs", "_lock", "_scope", "labels", "name", "unit")

    #: The Prometheus type of the meter.
    meter_type: ClassVar[str] = "untyped"
    #: Label names this meter type reserves for its exposition.
    reserved_labels: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, unit: str, labels: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.unit = unit
        self.labels: dict[str, str] = {}
        self._lock = threading.Lock()
        self._scope: MeterScope = GLOBAL_SCOPE
        self._children: dict[frozenset[tuple[str, Any]], BaseMeter] = {}
        self._init_kwargs: dict[str, Any] = {}

    def _adopt(self, scope: MeterScope, labels: dict[str, str]) -> None:
        """Called once when the meter is registered in ``scope``."""
        self._scope = scope
        self.labels = labels

    @property
    def scope(self) -> MeterScope:
        """The scope the meter is registered in."""
        return self._scope

    def new_labels(self: M, labels: Mapping[str, Any]) -> M:
        """The meter of the same name with these labels added to (or replacing) this one's.

        ``http_requests.new_labels({"status_code": 404})`` is the same object as
        ``Counter("http_requests", "requests", labels={**http_requests.labels, "status_code": 404})``,
        registered where this meter is. Repeated calls with the same labels are a dict lookup.
        """
        try:
            key: frozenset[tuple[str, Any]] | None = frozenset(labels.items())
        except (TypeError, AttributeError):
            key = None
        if key is not None:
            child = self._children.get(key)
            if child is not None:
                return child  # type: ignore[return-value]
        merged = {**self.labels, **labels}
        kwargs = {**self._init_kwargs, "name": self.name, "unit": self.unit, "labels": merged}
        child = type(self)._get_or_create(self._scope, (), kwargs)  # type: ignore[attr-defined]
        if key is not None:
            self._children[key] = child
        return child  # type: ignore[no-any-return]

    def is_pristine(self) -> bool:
        """True while the meter holds its initial value (nothing recorded yet)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        labels = f" {self.labels}" if self.labels else ""
        return f"<{type(self).__name__} {self.name}{labels} ({self.unit})>"


class Counter(BaseMeter):
    """A cumulative value that only goes up (requests served, errors...); reset on restart.

    ``counter.inc()``, ``@counter`` on a function or coroutine function (one per call), and
    ``counter.count_exceptions()`` (a decorator or context manager counting exceptions).
    """

    __slots__ = ("_value",)
    meter_type: ClassVar[str] = "counter"

    def __init__(self, name: str, unit: str, labels: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, unit, labels)
        self._value = 0.0

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (default 1); a negative (or NaN) amount is a ValueError."""
        if not amount >= 0:
            raise ValueError(f"counter {self.name!r}: inc() needs a non-negative amount, got {amount!r}")
        lock = self._lock
        lock.acquire()
        try:
            self._value += amount
        finally:
            lock.release()

    @property
    def value(self) -> float:
        """The current count."""
        return self._value

    def current_value(self) -> float:
        """The current count (0.1 name)."""
        return self._value

    def count_exceptions(
        self, exception: type[BaseException] | tuple[type[BaseException], ...] = Exception
    ) -> ExceptionMonitor:
        """Count the ``exception``s raised in a block or a call (they still propagate)."""
        return ExceptionMonitor(self.inc, exception)

    def __call__(self, function: F) -> F:
        """Decorator: count the calls of ``function`` (a function or a coroutine function)."""
        return call_counter(function, self.inc)

    def is_pristine(self) -> bool:
        return self._value == 0


class Gauge(BaseMeter):
    """A value that goes up and down (connections, queue size, last duration...).

    ``inc``, ``dec``, ``set``, ``set_to_current_time``; ``@gauge`` adds one per call (as in the
    0.1 docs: ``@ws_connections`` on ``on_open``); ``gauge.timeit()`` sets it to the duration
    in seconds of a block or a call.
    """

    __slots__ = ("_start_value", "_value")
    meter_type: ClassVar[str] = "gauge"

    def __init__(self, name: str, unit: str, start_value: float = 0, labels: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, unit, labels)
        self._start_value = float(start_value)
        self._value = self._start_value
        self._init_kwargs = {"start_value": start_value}

    def inc(self, amount: float = 1) -> None:
        """Add ``amount`` (default 1)."""
        lock = self._lock
        lock.acquire()
        try:
            self._value += amount
        finally:
            lock.release()

    def dec(self, amount: float = 1) -> None:
        """Subtract ``amount`` (default 1)."""
        lock = self._lock
        lock.acquire()
        try:
            self._value -= amount
        finally:
            lock.release()

    def set(self, value: float) -> None:
        """Set the value."""
        value = float(value)
        lock = self._lock
        lock.acquire()
        try:
            self._value = value
        finally:
            lock.release()

    def set_to_current_time(self) -> None:
        """Set the value to the current Unix time in seconds."""
        self.set(time.time())

    @property
    def value(self) -> float:
        """The current value."""
        return self._value

    def current_value(self) -> float:
        """The current value (0.1 name)."""
        return self._value

    def timeit(self) -> Timer:
        """A :class:`Timer` that sets this gauge to each measured duration (seconds)."""
        return Timer(self.set)

    def __call__(self, function: F) -> F:
        """Decorator: add one per call of ``function`` (a function or a coroutine function)."""
        return call_counter(function, self.inc)

    def is_pristine(self) -> bool:
        return self._value == self._start_value


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

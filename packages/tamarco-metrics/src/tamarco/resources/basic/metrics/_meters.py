"""The meters: Counter and Gauge (Summary: ``_summary.py``), flyweights per scope, name and labels.

The hot paths (``inc``, ``dec``, ``set``, ``observe``) only update plain Python floats under
a per-meter lock; nothing is formatted or allocated until an exporter collects. The lock
makes them exact from threads too (``@thread`` tasks, executors).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from tamarco.core.patterns import FlyweightWithLabels
from tamarco.resources.basic.metrics._errors import MeterConflictError
from tamarco.resources.basic.metrics._naming import (
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

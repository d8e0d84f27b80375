"""The instruments and the provider contract (what tamarco-metrics implements)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "BoundCounter",
    "BoundGauge",
    "BoundSummary",
    "Counter",
    "Gauge",
    "MeterProvider",
    "Summary",
]

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


class BoundCounter(Protocol):
    """A counter with its label values given: what the hot path records into."""

    def inc(self, n: float = 1, /) -> None:
        """Add ``n`` (default 1; negative is a ValueError in the implementation)."""


class BoundGauge(Protocol):
    """A gauge with its label values given."""

    def set(self, value: float, /) -> None: ...

    def inc(self, n: float = 1, /) -> None: ...

    def dec(self, n: float = 1, /) -> None: ...


class BoundSummary(Protocol):
    """A summary with its label values given."""

    def observe(self, value: float, /) -> None: ...

    def observe_many(self, values: Sequence[float], /) -> None:
        """Record several observations at once (as ``observe`` on each, in order)."""


B = TypeVar("B", BoundCounter, BoundGauge, BoundSummary)

#: ``bind({label: value}) -> bound meter``: what a provider returns for one instrument. Called
#: with every declared label (values as strings), ``{}`` for an instrument without labels.
Binder = Callable[[dict[str, str]], B]


@runtime_checkable
class MeterProvider(Protocol):
    """What an instrumentation implementation provides (tamarco-metrics registers one).

    Core checks names and labels before calling it; ``label_names`` are the declared labels.
    """

    def counter(self, name: str, unit: str, label_names: tuple[str, ...]) -> Binder[BoundCounter]: ...

    def gauge(self, name: str, unit: str, label_names: tuple[str, ...]) -> Binder[BoundGauge]: ...

    def summary(self, name: str, unit: str, label_names: tuple[str, ...]) -> Binder[BoundSummary]: ...

    def enabled(self) -> bool:
        """Whether the current service (context) exports what is recorded."""

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before each export of the current scope (maybe from a thread)."""

    def remove_collect_hook(self, hook: Callable[[], None]) -> None:
        """Undo :meth:`add_collect_hook` wherever it was added (no error if absent)."""


def check_name(name: object, unit: object, labels: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """``(name, label names)`` checked: errors name the meter and the label."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"invalid meter name {name!r}: letters, digits and '_', not starting with a digit")
    if not isinstance(unit, str):
        raise TypeError(f"meter {name!r}: unit must be a string, not {type(unit).__name__}")
    if isinstance(labels, str):
        raise TypeError(f"meter {name!r}: labels must be a sequence of label names, not the string {labels!r}")
    names = tuple(labels)
    for label in names:
        if not isinstance(label, str) or not _NAME.match(label) or label.startswith("__"):
            raise ValueError(f"meter {name!r}: invalid label name {label!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"meter {name!r}: label names repeated in {names!r}")
    return name, names


class _Instrument:
    """What the three instruments share: a name, a unit, declared labels and a binder."""

    __slots__ = ("_bind", "label_names", "name", "unit")
    kind = "meter"

    def __init__(self, name: str, unit: str, label_names: tuple[str, ...], bind: Callable[[dict[str, str]], Any]):
        self.name = name
        self.unit = unit
        self.label_names = label_names
        self._bind = bind

    def _bound(self, values: dict[str, Any]) -> Any:
        declared = self.label_names
        for label in values:
            if label not in declared:
                raise ValueError(
                    f"{self.kind} {self.name!r} has no label {label!r} (declared: {', '.join(declared) or 'none'})"
                )
        if len(values) != len(declared):
            missing = [label for label in declared if label not in values]
            raise ValueError(f"{self.kind} {self.name!r}: labels() needs a value for {', '.join(missing)}")
        return self._bind({label: str(value) for label, value in values.items()})

    def _unbound(self, *args: Any) -> None:
        raise ValueError(
            f"{self.kind} {self.name!r} declares labels ({', '.join(self.label_names)}): "
            f"record through .labels({', '.join(f'{label}=...' for label in self.label_names)})"
        )

    def __repr__(self) -> str:
        labels = f" labels={self.label_names}" if self.label_names else ""
        return f"<{type(self).__name__} {self.name} ({self.unit}){labels}>"


class Counter(_Instrument):
    """A cumulative count. Without labels, ``inc`` records on the instrument itself; with
    labels, ``labels(**values)`` gives the :class:`BoundCounter` to record into (keep it)."""

    __slots__ = ("inc",)
    kind = "counter"

    def __init__(self, name: str, unit: str, label_names: tuple[str, ...], bind: Binder[BoundCounter]) -> None:
        super().__init__(name, unit, label_names, bind)
        # The bound method itself: recording costs what the implementation's ``inc`` costs.
        self.inc: Callable[..., None] = self._unbound if label_names else bind({}).inc

    def labels(self, **values: Any) -> BoundCounter:
        """The counter for these label values (every declared label, no other)."""
        return self._bound(values)  # type: ignore[no-any-return]


class Gauge(_Instrument):
    """A value that goes up and down: ``set``, ``inc``, ``dec`` (on ``labels(...)`` if declared)."""

    __slots__ = ("dec", "inc", "set")
    kind = "gauge"

    def __init__(self, name: str, unit: str, label_names: tuple[str, ...], bind: Binder[BoundGauge]) -> None:
        super().__init__(name, unit, label_names, bind)
        if label_names:
            self.set: Callable[..., None] = self._unbound
            self.inc: Callable[..., None] = self._unbound
            self.dec: Callable[..., None] = self._unbound
        else:
            bound = bind({})
            self.set, self.inc, self.dec = bound.set, bound.inc, bound.dec

    def labels(self, **values: Any) -> BoundGauge:
        """The gauge for these label values (every declared label, no other)."""
        return self._bound(values)  # type: ignore[no-any-return]


class Summary(_Instrument):
    """Observations (durations, sizes): ``observe`` and ``observe_many`` (on ``labels(...)`` if
    declared); the implementation keeps count, sum and quantiles."""

    __slots__ = ("observe", "observe_many")
    kind = "summary"

    def __init__(self, name: str, unit: str, label_names: tuple[str, ...], bind: Binder[BoundSummary]) -> None:
        super().__init__(name, unit, label_names, bind)
        if label_names:
            self.observe: Callable[..., None] = self._unbound
            self.observe_many: Callable[..., None] = self._unbound
        else:
            bound = bind({})
            self.observe, self.observe_many = bound.observe, bound.observe_many

    def labels(self, **values: Any) -> BoundSummary:
        """The summary for these label values (every declared label, no other)."""
        return self._bound(values)  # type: ignore[no-any-return]

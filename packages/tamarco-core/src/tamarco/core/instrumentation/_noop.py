"""What instruments record into when no implementation is installed: shared do-nothing objects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["NOOP_BOUND", "NoopProvider"]


class _NoopBound:
    """One object for every bound counter, gauge and summary: each method does nothing."""

    __slots__ = ()

    def inc(self, n: float = 1, /) -> None:
        pass

    def dec(self, n: float = 1, /) -> None:
        pass

    def set(self, value: float, /) -> None:
        pass

    def observe(self, value: float, /) -> None:
        pass

    def observe_many(self, values: Sequence[float], /) -> None:
        pass

    def __repr__(self) -> str:
        return "<no-op meter: no instrumentation implementation installed>"


NOOP_BOUND = _NoopBound()


def _bind_noop(values: dict[str, str]) -> Any:
    return NOOP_BOUND


class NoopProvider:
    """The provider used while no implementation is registered: records nothing, costs nothing."""

    def counter(self, name: str, unit: str, label_names: tuple[str, ...]) -> Callable[[dict[str, str]], Any]:
        return _bind_noop

    gauge = counter
    summary = counter

    def enabled(self) -> bool:
        return False

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        pass

    def remove_collect_hook(self, hook: Callable[[], None]) -> None:
        pass


NOOP_PROVIDER = NoopProvider()

"""tamarco-metrics as the implementation of ``tamarco.core.instrumentation``.

Registered through the ``tamarco.instrumentation`` entry point. An instrument of the core API is
one of this package's meters: same name, same family (``instrumentation.counter("x", ...)`` and
``Counter("x", ...)`` are one), created in the scope the name belongs to when the instrument is
created (the running service's, or the process-wide one, see ``_scope``). Bound meters are the
meters themselves, so recording through the API costs what ``Counter.inc`` costs.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from tamarco.core.instrumentation import MeterProvider
from tamarco.resources.basic.metrics._meters import BaseMeter, Counter, Gauge
from tamarco.resources.basic.metrics._naming import check_meter_name
from tamarco.resources.basic.metrics._scope import GLOBAL_SCOPE, REGISTRY_LOCK, MeterScope, current_scope
from tamarco.resources.basic.metrics._summary import Summary

__all__ = ["MetricsMeterProvider"]


class MetricsMeterProvider:
    """Creates this package's meters for the core instrumentation API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: hook -> the scopes it was added to (its removal may run in another context).
        self._hooked: dict[Callable[[], None], weakref.WeakSet[MeterScope]] = {}

    def counter(self, name: str, unit: str, label_names: tuple[str, ...]) -> Callable[[dict[str, str]], Any]:
        return self._binder(Counter, name, unit)

    def gauge(self, name: str, unit: str, label_names: tuple[str, ...]) -> Callable[[dict[str, str]], Any]:
        return self._binder(Gauge, name, unit)

    def summary(self, name: str, unit: str, label_names: tuple[str, ...]) -> Callable[[dict[str, str]], Any]:
        return self._binder(Summary, name, unit)

    @staticmethod
    def _binder(meter_class: type[BaseMeter], name: str, unit: str) -> Callable[[dict[str, str]], Any]:
        check_meter_name(name)
        with REGISTRY_LOCK:
            scope = GLOBAL_SCOPE if name in GLOBAL_SCOPE.families else current_scope()
            family = scope.families.get(name)
            if family is not None:  # a conflict (another type or unit) is an error now, not at first use
                meter_class._check_family(family, name, unit)  # type: ignore[attr-defined]
        get_or_create = meter_class._get_or_create  # type: ignore[attr-defined]

        def bind(labels: dict[str, str]) -> Any:
            return get_or_create(scope, (), {"name": name, "unit": unit, "labels": labels})

        return bind

    def enabled(self) -> bool:
        """A metrics resource exports the current context's meters (its service is running)."""
        return current_scope() is not GLOBAL_SCOPE

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        scope = current_scope()
        scope.add_collect_hook(hook)
        with self._lock:
            self._hooked.setdefault(hook, weakref.WeakSet()).add(scope)

    def remove_collect_hook(self, hook: Callable[[], None]) -> None:
        """Remove ``hook`` from every scope it was added to (from whatever context)."""
        with self._lock:
            scopes = self._hooked.pop(hook, ())
        for scope in list(scopes):
            scope.remove_collect_hook(hook)


def provider() -> MetricsMeterProvider:
    """The entry point's factory."""
    return MetricsMeterProvider()


# The contract, checked by mypy: this is what core's MeterProvider describes.
_implements: type[MeterProvider] = MetricsMeterProvider

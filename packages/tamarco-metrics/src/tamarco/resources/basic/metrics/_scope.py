"""Where meters live: the process-wide scope and one scope per running service.

The flyweight rule of the 0.1 docs ("the same name and labels give the same object wherever
it is created") holds inside a scope. Which scope a *new* meter name goes to:

- outside any service (module level, at import, in ``__init__`` of a service, in a thread
  started by hand): the process-wide :data:`GLOBAL_SCOPE`; every metrics resource in the
  process exports it;
- while a service's metrics resource is active in the current asyncio context (the service's
  start, its hooks, tasks and the handlers of its servers, which all inherit that context):
  that service's own scope, exported by that service only.

Once a name exists in the global scope, every meter of that name (any labels, any service)
is the global one, so a module-level meter and its ``new_labels`` children are one family.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tamarco.resources.basic.metrics._naming import labels_key

if TYPE_CHECKING:
    from tamarco.resources.basic.metrics._meters import BaseMeter

__all__ = ["GLOBAL_SCOPE", "MeterFamily", "MeterScope", "current_scope", "meter_scope"]

logger = logging.getLogger("tamarco.metrics")

#: Guards every family dict of every scope: creation is rare, reads for export copy under it.
REGISTRY_LOCK = threading.RLock()


class MeterFamily:
    """All the meters of one name in one scope (one per label set), of one type and unit."""

    __slots__ = ("meter_type", "meters", "name", "unit")

    def __init__(self, name: str, meter_type: type[BaseMeter], unit: str) -> None:
        self.name = name
        self.meter_type = meter_type
        self.unit = unit
        self.meters: dict[tuple[tuple[str, str], ...], BaseMeter] = {}


class MeterScope:
    """A set of meter families: the process-wide one, or one per service.

    ``summary_window_seconds`` and ``summary_age_buckets`` are the sliding window given to the
    summaries of this scope that were created without an explicit window.
    """

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.families: dict[str, MeterFamily] = {}
        self.summary_window_seconds: float | None = None
        self.summary_age_buckets: int | None = None
        self._collect_hooks: list[Callable[[], None]] = []

    def add_collect_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` before every export of this scope (Prometheus scrape, Graphite
        report), maybe from another thread: for code that batches its updates to meters
        (see tamarco-http) to apply what it holds, so that exports are always current."""
        with REGISTRY_LOCK:
            self._collect_hooks = [*self._collect_hooks, hook]

    def remove_collect_hook(self, hook: Callable[[], None]) -> None:
        """Undo :meth:`add_collect_hook` (no error if ``hook`` is not there)."""
        with REGISTRY_LOCK:
            self._collect_hooks = [existing for existing in self._collect_hooks if existing != hook]

    def run_collect_hooks(self) -> None:
        """Run the collect hooks (an exporter calls this before reading the meters)."""
        for hook in self._collect_hooks:
            try:
                hook()
            except Exception:
                logger.exception("metrics: collect hook %r of scope %s failed", hook, self.name or "global")

    def snapshot(self) -> list[tuple[MeterFamily, list[BaseMeter]]]:
        """The families and their meters, copied under the lock (safe while others create)."""
        with REGISTRY_LOCK:
            return [(family, list(family.meters.values())) for family in self.families.values()]

    def meters(self) -> list[BaseMeter]:
        """Every meter of this scope."""
        return [meter for _, meters in self.snapshot() for meter in meters]

    def get(self, name: str, labels: dict[str, Any] | None = None) -> BaseMeter | None:
        """The meter ``name`` with exactly ``labels`` in this scope, or None."""
        with REGISTRY_LOCK:
            family = self.families.get(name)
            if family is None:
                return None
            return family.meters.get(labels_key({k: str(v) for k, v in (labels or {}).items()}))

    def clear(self) -> None:
        """Forget every meter of this scope (tests; meters still referenced keep working)."""
        with REGISTRY_LOCK:
            self.families.clear()

    def __repr__(self) -> str:
        return f"<MeterScope {self.name or 'global'}: {len(self.families)} families>"


#: Meters created outside any service: shared by, and exported by, every service.
GLOBAL_SCOPE = MeterScope(None)

_current: contextvars.ContextVar[MeterScope | None] = contextvars.ContextVar("tamarco_meter_scope", default=None)
_service_scopes: weakref.WeakSet[MeterScope] = weakref.WeakSet()


def current_scope() -> MeterScope:
    """The scope new meter names go to in the current context."""
    return _current.get() or GLOBAL_SCOPE


def activate(scope: MeterScope) -> None:
    """Make ``scope`` current in this context (and the tasks it creates from now on)."""
    _current.set(scope)
    if scope is not GLOBAL_SCOPE:
        _service_scopes.add(scope)


def deactivate(scope: MeterScope) -> None:
    """Undo :func:`activate` if ``scope`` is the current one in this context."""
    if _current.get() is scope:
        _current.set(None)


def service_scopes() -> list[MeterScope]:
    """The service scopes still alive."""
    return list(_service_scopes)


def _reinit_locks_after_fork() -> None:
    """In a forked child, locks held by other threads of the parent would stay locked forever:
    reset the registry's and every meter's lock (the values are kept: the child starts with
    the parent's counts)."""
    reinit = getattr(REGISTRY_LOCK, "_at_fork_reinit", None)
    if reinit is None:  # pragma: no cover - CPython >= 3.9 has it
        return
    reinit()
    for scope in (GLOBAL_SCOPE, *_service_scopes):
        for family in scope.families.values():
            for meter in family.meters.values():
                meter._lock._at_fork_reinit()  # type: ignore[attr-defined]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_locks_after_fork)


@contextmanager
def meter_scope(scope: MeterScope | None = None) -> Iterator[MeterScope]:
    """Create the meters of a block in ``scope`` (a fresh one by default). For tests and tools.

    ``with meter_scope() as scope: Counter("x", "things")`` creates ``x`` in ``scope`` (unless
    ``x`` already exists process-wide).
    """
    scope = scope if scope is not None else MeterScope("scoped")
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)

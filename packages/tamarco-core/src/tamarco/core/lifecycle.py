"""The lifecycle contract between the microservice and the packages that hook into it.

* :class:`ServiceState`: what a service is doing (``created`` → ``starting`` → ``running`` →
  ``stopping`` → ``stopped``). A ``str`` enum, so ``service.state == "running"`` keeps working.
* :class:`LifecycleStage`: one step of the start or stop sequence; :data:`LIFECYCLE_ORDER` is
  their order, the one the docstring of :mod:`tamarco.core.microservice` states (a test checks
  both against what a service really does).
* :class:`StageInProgress`: the stage a service is in, and the resource when the stage is one
  resource's (``str()`` gives the human form, ``"stop of resource db"``).
* :class:`LifecycleHooks`: where plugins register callbacks (``service.hooks.on_running(cb)``).
  Each registration returns a :class:`HookHandle`; ``handle.remove()`` unregisters it.

Hooks and their order:

* ``on_running(cb)``: awaited once the service runs (every resource's ``post_start`` ran and the
  tasks started), in registration order.
* ``on_stopping(cb)``: awaited first thing on stop (before the tasks stop), in *reverse*
  registration order (what registered last is undone first, as with ``contextlib.ExitStack``).
* ``on_start_failure(cb)``: ``await cb(resource, error)`` when a resource raises in a start
  stage of the service's start (not in a :meth:`restart <tamarco.core.microservice.MicroserviceBase.restart_resource>`),
  in registration order, every one of them; when one returns True it took charge (a restart
  policy) and the service keeps starting, otherwise the start fails.
* ``on_resource_status(cb)``: ``cb(resource, old, new)`` (synchronous) on every status change of
  a resource of the service, from its setup until its stop ends, in registration order.

A hook that raises is logged with its traceback and the other hooks still run; a failing start
failure hook counts as "not taken charge of".
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from tamarco.resources.bases import BaseResource, StatusCodes

__all__ = [
    "LIFECYCLE_ORDER",
    "RESOURCE_STAGES",
    "REVERSE_STAGES",
    "START_ORDER",
    "STOP_ORDER",
    "HookHandle",
    "LifecycleHook",
    "LifecycleHooks",
    "LifecycleStage",
    "ResourceStatusHook",
    "ServiceState",
    "StageInProgress",
    "StartFailureHook",
]


class ServiceState(enum.StrEnum):
    """What a service is doing. Compares equal to its value (``"running"``), which ``str()``
    and f-strings give."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class LifecycleStage(enum.StrEnum):
    """One step of the start or stop sequence (the value is its human name)."""

    PROVISIONAL_LOGGING = "provisional logging"
    SETTINGS_START = "settings start"
    LOGGING_START = "logging start"
    BIND = "bind"
    SETTINGS_CHECK = "settings check"
    PRE_START = "pre_start"
    START = "start"
    POST_START = "post_start"
    TASKS_START = "tasks start"
    RUNNING_HOOKS = "running hooks"
    RESTARTS_CANCEL = "restarts cancel"
    STOPPING_HOOKS = "stopping hooks"
    TASKS_STOP = "tasks stop"
    STOP = "stop"
    POST_STOP = "post_stop"
    SETTINGS_STOP = "settings stop"
    LOGGING_STOP = "logging stop"


S = LifecycleStage
#: The start sequence, in order.
START_ORDER: tuple[LifecycleStage, ...] = (
    S.PROVISIONAL_LOGGING,
    S.SETTINGS_START,
    S.LOGGING_START,
    S.BIND,
    S.SETTINGS_CHECK,
    S.PRE_START,
    S.START,
    S.POST_START,
    S.TASKS_START,
    S.RUNNING_HOOKS,
)
#: The stop sequence, in order.
STOP_ORDER: tuple[LifecycleStage, ...] = (
    S.RESTARTS_CANCEL,
    S.STOPPING_HOOKS,
    S.TASKS_STOP,
    S.STOP,
    S.POST_STOP,
    S.SETTINGS_STOP,
    S.LOGGING_STOP,
)
#: Every step of a service's life, in order (the docstring of ``tamarco.core.microservice``).
LIFECYCLE_ORDER: tuple[LifecycleStage, ...] = START_ORDER + STOP_ORDER
#: Stages run once per resource: in dependency order, or reverse order for :data:`REVERSE_STAGES`.
RESOURCE_STAGES: frozenset[LifecycleStage] = frozenset(
    {S.BIND, S.SETTINGS_CHECK, S.PRE_START, S.START, S.POST_START, S.STOP, S.POST_STOP}
)
REVERSE_STAGES: frozenset[LifecycleStage] = frozenset({S.STOP, S.POST_STOP})
del S


@dataclass(frozen=True)
class StageInProgress:
    """The stage a service is in, and the resource it is at for a per-resource stage."""

    stage: LifecycleStage
    resource: str | None = None
    #: True when the stage belongs to a ``restart_resource`` rather than the service's start/stop.
    restart: bool = False

    def __str__(self) -> str:
        text = f"{self.stage.value} of resource {self.resource}" if self.resource else self.stage.value
        return f"restart: {text}" if self.restart else text


LifecycleHook = Callable[[], Awaitable[None]]
StartFailureHook = Callable[["BaseResource", BaseException], Awaitable[bool]]
ResourceStatusHook = Callable[["BaseResource", "StatusCodes", "StatusCodes"], None]

_H = TypeVar("_H")


class HookHandle(Generic[_H]):
    """One registration; :meth:`remove` unregisters it (again is a no-op)."""

    __slots__ = ("_registry", "callback", "kind")

    def __init__(self, registry: list[HookHandle[_H]], kind: str, callback: _H) -> None:
        self._registry = registry
        self.kind = kind
        self.callback = callback

    @property
    def active(self) -> bool:
        return any(handle is self for handle in self._registry)

    def remove(self) -> None:
        self._registry[:] = [handle for handle in self._registry if handle is not self]

    def __repr__(self) -> str:
        return f"<HookHandle {self.kind} {self.callback!r}{'' if self.active else ' (removed)'}>"


class LifecycleHooks:
    """The callbacks plugins register on a service (``service.hooks``); see the module docstring."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self._running: list[HookHandle[LifecycleHook]] = []
        self._stopping: list[HookHandle[LifecycleHook]] = []
        self._start_failure: list[HookHandle[StartFailureHook]] = []
        self._resource_status: list[HookHandle[ResourceStatusHook]] = []

    # -- registration --------------------------------------------------------------------

    def on_running(self, callback: LifecycleHook) -> HookHandle[LifecycleHook]:
        """Await ``callback()`` once the service runs (after the tasks started)."""
        return self._add(self._running, "running", callback)

    def on_stopping(self, callback: LifecycleHook) -> HookHandle[LifecycleHook]:
        """Await ``callback()`` first thing on stop, before the tasks stop."""
        return self._add(self._stopping, "stopping", callback)

    def on_start_failure(self, callback: StartFailureHook) -> HookHandle[StartFailureHook]:
        """Await ``callback(resource, error)`` when a resource fails to start; True takes charge."""
        return self._add(self._start_failure, "start_failure", callback)

    def on_resource_status(self, callback: ResourceStatusHook) -> HookHandle[ResourceStatusHook]:
        """Call ``callback(resource, old, new)`` on every status change of a resource."""
        return self._add(self._resource_status, "resource_status", callback)

    @staticmethod
    def _add(registry: list[HookHandle[_H]], kind: str, callback: _H) -> HookHandle[_H]:
        if not callable(callback):
            raise TypeError(f"{kind} hook must be callable, got {callback!r}")
        handle = HookHandle(registry, kind, callback)
        registry.append(handle)
        return handle

    def registered(self, kind: str) -> list[object]:
        """The callbacks of one kind (``running``, ``stopping``, ``start_failure``,
        ``resource_status``) in registration order: for tests and diagnostics."""
        registries: dict[str, list[HookHandle[object]]] = {
            "running": self._running,  # type: ignore[dict-item]
            "stopping": self._stopping,  # type: ignore[dict-item]
            "start_failure": self._start_failure,  # type: ignore[dict-item]
            "resource_status": self._resource_status,  # type: ignore[dict-item]
        }
        if kind not in registries:
            raise ValueError(f"unknown hook kind {kind!r} (one of {', '.join(registries)})")
        return [handle.callback for handle in registries[kind]]

    # -- calling (by the microservice) ---------------------------------------------------

    async def run_running(self) -> None:
        for handle in list(self._running):
            await self._await(handle)

    async def run_stopping(self) -> None:
        for handle in reversed(list(self._stopping)):
            await self._await(handle)

    async def _await(self, handle: HookHandle[LifecycleHook]) -> None:
        try:
            await handle.callback()
        except Exception:
            self.logger.exception("%s hook %r failed", handle.kind, handle.callback)

    async def run_start_failure(self, resource: BaseResource, error: BaseException) -> bool:
        """True when a hook took charge of the failure of ``resource``."""
        handled = False
        for handle in list(self._start_failure):
            try:
                handled = bool(await handle.callback(resource, error)) or handled
            except Exception:
                self.logger.exception("start failure hook %r failed", handle.callback)
        return handled

    def notify_resource_status(self, resource: BaseResource, old: StatusCodes, new: StatusCodes) -> None:
        """The status listener the microservice adds to each of its resources."""
        for handle in list(self._resource_status):
            try:
                handle.callback(resource, old, new)
            except Exception:
                self.logger.exception("resource status hook %r failed", handle.callback)

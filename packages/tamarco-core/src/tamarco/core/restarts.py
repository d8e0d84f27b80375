"""Restarting one resource of a running service, and the resources that depend on it.

:meth:`MicroserviceBase.restart_resource <tamarco.core.microservice.MicroserviceBase.restart_resource>`
is the public entry; :class:`ResourceRestarts` is the machinery behind it. The resource and
every resource depending on it, transitively, ``stop`` in reverse dependency order, then go
through ``pre_start``, ``start`` and ``post_start`` (each stage over all of them, in dependency
order, as at start), within one timeout. One restart runs at a time; it waits for the service
to be running, and the service's stop cancels it first thing (``restarts cancel``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tamarco.core.errors import ResourceRestartError, RestartCancelledError, UnknownResourceError
from tamarco.core.lifecycle import LifecycleStage, ServiceState, StageInProgress
from tamarco.resources.bases import BaseResource, StatusCodes

if TYPE_CHECKING:
    from tamarco.core.microservice import MicroserviceBase

__all__ = ["DEFAULT_RESTART_TIMEOUT", "ResourceRestarts"]

#: Default time a restart attempt may take, stop to STARTED.
DEFAULT_RESTART_TIMEOUT = 30.0

#: Statuses a restarted resource may end in (CONNECTING and the like are waited for).
_SETTLED = (StatusCodes.STARTED, StatusCodes.FAILED, StatusCodes.STOPPED)
_START_STAGES = (LifecycleStage.PRE_START, LifecycleStage.START, LifecycleStage.POST_START)


class ResourceRestarts:
    """The restarts of one service's resources (one at a time, cancelled by its stop)."""

    def __init__(self, service: MicroserviceBase, logger: logging.Logger, redact: Callable[[str], str]) -> None:
        self._service = service
        self._logger = logger
        self._redact = redact
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[list[str]]] = set()
        #: The resources the restart in progress is stopping or starting.
        self.restarting: frozenset[str] = frozenset()

    def dependents(self, name: str) -> list[str]:
        """The resources that depend on ``name``, directly or not, in start order."""
        service = self._service
        if name not in service.resources:
            raise UnknownResourceError(name, list(service.resources))
        found = {name}
        for candidate in service.resources_order:  # dependencies come first in this order
            if any(dependency in found for dependency in service.resource_dependencies[candidate]):
                found.add(candidate)
        return [n for n in service.resources_order if n in found and n != name]

    async def restart(self, name: str, timeout: float) -> list[str]:
        """Restart ``name`` and its dependents (see ``MicroserviceBase.restart_resource``)."""
        service = self._service
        if name not in service.resources:
            raise UnknownResourceError(name, list(service.resources))
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"restart_resource({name!r}): timeout must be a positive number, got {timeout!r}")
        await service._wait_past_start()  # never race the service's own start
        async with self._lock:
            if service.state is not ServiceState.RUNNING:
                raise RestartCancelledError(name, None, service.state.value)
            chain = asyncio.get_running_loop().create_task(
                self._chain(name, float(timeout)), name=f"tamarco:restart:{name}"
            )
            self._tasks.add(chain)
            try:
                await asyncio.wait({chain})
            except asyncio.CancelledError:  # our caller was cancelled: so is the restart
                chain.cancel()
                await asyncio.gather(chain, return_exceptions=True)
                raise
            finally:
                self._tasks.discard(chain)
                self.restarting = frozenset()
            return chain.result()

    async def cancel(self) -> None:
        """Cancel the restart in progress, if any (its caller gets :class:`RestartCancelledError`)."""
        chains = list(self._tasks)
        for chain in chains:
            chain.cancel()
        await asyncio.gather(*chains, return_exceptions=True)

    async def _chain(self, name: str, timeout: float) -> list[str]:
        resources = self._service.resources
        names = [name, *self.dependents(name)]
        self.restarting = frozenset(names)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        step = StageInProgress(LifecycleStage.STOP, name, restart=True)
        self._logger.info(
            "restarting resource %s%s",
            name,
            f" and its dependents {', '.join(names[1:])}" if len(names) > 1 else "",
        )

        async def within_deadline(what: Awaitable[None]) -> None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                if asyncio.iscoroutine(what):
                    what.close()
                raise TimeoutError(f"the restart took longer than {timeout:g} s")
            try:
                await asyncio.wait_for(what, remaining)
            except TimeoutError:
                raise TimeoutError(
                    f"{step.stage.value} did not finish within the restart timeout of {timeout:g} s"
                ) from None

        try:
            for current in reversed(names):
                resource = resources[current]
                step = StageInProgress(LifecycleStage.STOP, current, restart=True)
                self._logger.debug("restart: resource %s: stop", current)
                if resource.status_code not in (StatusCodes.STOPPED, StatusCodes.NOT_STARTED):
                    resource.set_status(StatusCodes.STOPPING)
                try:
                    await within_deadline(resource.stop())
                except TimeoutError as error:
                    resource.set_status(StatusCodes.FAILED, error)
                    raise ResourceRestartError(name, current, step.stage.value, error, self._redact) from error
                except Exception as error:  # a broken resource often fails to stop too: start anyway
                    self._logger.warning(
                        "resource %s: stop before restart failed: %s: %s", current, type(error).__name__, error
                    )
            for stage in _START_STAGES:
                for current in names:
                    resource = resources[current]
                    step = StageInProgress(stage, current, restart=True)
                    self._logger.debug("restart: resource %s: %s", current, stage.value)
                    try:
                        await within_deadline(getattr(resource, stage.value)())
                    except Exception as error:
                        resource.set_status(StatusCodes.FAILED, error)
                        raise ResourceRestartError(name, current, stage.value, error, self._redact) from error
            for current in names:
                await self._wait_settled(name, current, deadline, timeout)
        except asyncio.CancelledError:
            raise RestartCancelledError(name, str(step), self._service.state.value) from None
        self._logger.info("restarted resource%s %s: STARTED", "s" if len(names) > 1 else "", ", ".join(names))
        return names

    async def _wait_settled(self, restarted: str, name: str, deadline: float, timeout: float) -> None:
        """Wait for ``name`` to leave CONNECTING (or the like) for STARTED; raise otherwise."""
        resource = self._service.resources[name]
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def on_change(_resource: BaseResource, _old: StatusCodes, _new: StatusCodes) -> None:
            changed.set()

        resource.add_status_listener(on_change)
        try:
            while resource.status_code not in _SETTLED:
                changed.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    status = resource.status_code.name
                    error = TimeoutError(f"still {status} {timeout:g} s after the restart began")
                    resource.set_status(StatusCodes.FAILED, error)
                    raise ResourceRestartError(restarted, name, LifecycleStage.START.value, error)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        finally:
            resource.remove_status_listener(on_change)
        if resource.status_code != StatusCodes.STARTED:
            reason = f"ended {resource.status_code.name}" + (f" ({resource.last_error})" if resource.last_error else "")
            raise ResourceRestartError(restarted, name, LifecycleStage.START.value, reason)

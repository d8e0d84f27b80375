"""Restart policies: what happens when a resource becomes FAILED.

* ``restart_resource_on_failure``: the resource is restarted in place by the core
  (``microservice.restart_resource``: it and the resources depending on it stop, then go
  through ``pre_start``, ``start`` and ``post_start`` again), after an exponential backoff, up
  to ``max_attempts`` times, each attempt within ``attempt_timeout_seconds``; each attempt is
  logged. When the attempts run out the resource stays FAILED and, if
  ``restart_microservice_on_failure`` also covers it, the service is stopped.
* ``restart_microservice_on_failure``: the service stops gracefully with a non-zero exit code
  (:data:`~tamarco.core.microservice.EXIT_FAILURE`) so that its orchestrator restarts it.

This module is the policy only (when, how often, backoff, giving up); stopping and starting
is the core's. Failures are seen as they happen, through the service's ``on_resource_status``
and ``on_start_failure`` hooks, never by polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tamarco.core.errors import ResourceRestartError, RestartCancelledError
from tamarco.core.lifecycle import ServiceState
from tamarco.core.microservice import EXIT_FAILURE
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status._config import RestartPolicyConfig

if TYPE_CHECKING:
    from tamarco.core.microservice import MicroserviceBase

__all__ = ["RestartPolicies"]

_ACTIVE_STATES = (ServiceState.STARTING, ServiceState.RUNNING)


class RestartPolicies:
    """Applies the restart policies of one service (owned by its status resource)."""

    def __init__(
        self,
        microservice: MicroserviceBase,
        config: Callable[[], RestartPolicyConfig],
        logger: logging.Logger,
        redact: Callable[[str], str],
    ) -> None:
        self.microservice = microservice
        self._config = config
        self.logger = logger
        self._redact = redact
        self._restarting: dict[str, asyncio.Task[None]] = {}
        self._attempts: dict[str, int] = {}
        self._recovered_at: dict[str, float] = {}
        self._detached: set[asyncio.Task[Any]] = set()
        self.microservice_stop_requested = False

    # -- what the status resource wires up --------------------------------------------------

    def on_status_change(self, resource: BaseResource, old: StatusCodes, new: StatusCodes) -> None:
        """``on_resource_status`` hook: reacts to a new FAILED status."""
        if new == StatusCodes.FAILED:
            self.resource_failed(resource)

    async def on_start_failure(self, resource: BaseResource, error: BaseException) -> bool:
        """``on_start_failure`` hook: take charge of resources restarted in place, so the
        service keeps starting while they are retried (once it runs: the core waits)."""
        self.resource_failed(resource)
        return resource.name in self._config().restart_resource_on_failure

    def restarting(self, name: str) -> bool:
        task = self._restarting.get(name)
        return task is not None and not task.done()

    def attempts(self, name: str) -> int:
        return self._attempts.get(name, 0)

    def resource_failed(self, resource: BaseResource) -> None:
        """React to ``resource`` being FAILED: restart it in place or stop the service."""
        name = resource.name
        if name is None or self.microservice.state not in _ACTIVE_STATES or self.restarting(name):
            return
        if name in self.microservice.restarting_resources:
            return  # failed while the core restarts it: the attempt that restarts it retries
        config = self._config()
        if name in config.restart_resource_on_failure:
            loop = asyncio.get_running_loop()
            self._restarting[name] = loop.create_task(self._restart_in_place(resource), name=f"tamarco:restart:{name}")
        elif name in config.restart_microservice_on_failure:
            self._stop_microservice(resource, "restart_microservice_on_failure")

    async def stop(self) -> None:
        """Cancel pending restarts (the service is stopping)."""
        tasks = list(self._restarting.values())
        self._restarting.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- restarting a resource in place -------------------------------------------------------

    async def _restart_in_place(self, resource: BaseResource) -> None:
        name = str(resource.name)
        loop = asyncio.get_running_loop()
        config = self._config()
        recovered = self._recovered_at.get(name)
        if recovered is not None and loop.time() - recovered >= config.reset_after_seconds:
            self._attempts[name] = 0
        while True:
            config = self._config()
            attempt = self._attempts.get(name, 0) + 1
            if attempt > config.max_attempts:
                self.logger.error(
                    "resource %s still FAILED after %d restart attempts, giving up (last error: %s)",
                    name,
                    config.max_attempts,
                    self._last_error(resource),
                )
                if resource.status_code != StatusCodes.FAILED:
                    resource.set_status(StatusCodes.FAILED)
                if name in config.restart_microservice_on_failure:
                    self._stop_microservice(
                        resource, "restart_microservice_on_failure (restart_resource_on_failure gave up)"
                    )
                return
            self._attempts[name] = attempt
            delay = config.backoff.delay(attempt)
            self.logger.warning(
                "resource %s FAILED (%s): restart attempt %d/%d in %.2f s",
                name,
                self._last_error(resource),
                attempt,
                config.max_attempts,
                delay,
            )
            await asyncio.sleep(delay)
            together = [resource, *(self.microservice.resources[n] for n in self.microservice.dependents(name))]
            if self.microservice.state == ServiceState.RUNNING and all(
                r.status_code == StatusCodes.STARTED for r in together
            ):
                self.logger.info("resource %s is STARTED again without a restart", name)
                self._recovered_at[name] = loop.time()
                return
            try:
                await self.microservice.restart_resource(name, timeout=config.attempt_timeout_seconds)
            except RestartCancelledError:
                return  # the service is stopping
            except ResourceRestartError as error:
                self.logger.warning("resource %s: restart failed: %s", name, self._redact(str(error)))
                continue
            self.logger.info("resource %s restarted: STARTED again (attempt %d/%d)", name, attempt, config.max_attempts)
            self._recovered_at[name] = loop.time()
            return

    # -- restarting the service ---------------------------------------------------------------

    def _stop_microservice(self, resource: BaseResource, policy: str) -> None:
        if self.microservice_stop_requested:
            return
        self.microservice_stop_requested = True
        reason = f"restart policy {policy}: resource {resource.name} FAILED ({self._last_error(resource)})"
        self.logger.critical("stopping service %s with exit code %d: %s", self.microservice.name, EXIT_FAILURE, reason)
        # A task of its own, not cancelled with the status resource: it drives the shutdown.
        task = asyncio.get_running_loop().create_task(
            self.microservice.stop_gracefully(exit_code=EXIT_FAILURE, reason=reason),  # type: ignore[attr-defined]
            name="tamarco:restart-policy:stop",
        )
        self._detached.add(task)
        task.add_done_callback(self._detached.discard)

    def _last_error(self, resource: BaseResource) -> str:
        return self._redact(resource.last_error or "no error recorded")

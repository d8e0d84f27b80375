"""The microservice: resources, lifecycle, tasks, signals and graceful shutdown.

Start (``run()`` or ``MicroserviceContext.start()``); the state goes ``created`` → ``starting``:

1. ``provisional logging``: stdout logging, so errors while loading the settings are visible;
2. ``settings start``: internal defaults, then the external source (file or etcd); the
   settings the core reads are checked (:class:`InvalidSettingError` naming the key);
3. ``logging start``: logging configured from ``system.logging`` (its handlers start), then
   tracing from ``system.tracing`` (see :mod:`tamarco.core.tracing`; off by default);
4. ``bind``: each resource, in dependency order (``depends_on``), is bound (``bind(service,
   name)``) and given its settings view (``configure_settings``, ``system.resources.<name>``);
5. ``pre_start``, 6. ``start``, 7. ``post_start``: the service's overridable stage
   methods, each running the same method of every resource in dependency order. A resource
   that raises becomes FAILED and the ``on_start_failure`` hooks are awaited: unless one
   takes charge (a restart policy), the start fails (:class:`ResourceStartError`);
8. ``tasks start``: the ``@task``, ``@task_timer`` and ``@thread`` methods; the state becomes
   ``running``;
9. ``running hooks``: the ``on_running`` hooks, in registration order (a service registry
   announces the instance here).

Stop (``stop_gracefully()``, SIGTERM or SIGINT, or a failed start); the state becomes
``stopping``:

1. ``restarts cancel``: a :meth:`~MicroserviceBase.restart_resource` in progress is cancelled
   (its caller gets :class:`RestartCancelledError`), and none starts from now on;
2. ``stopping hooks``: the ``on_stopping`` hooks, in reverse registration order, while every
   resource still works (the registry deregisters; restart policies end);
3. ``tasks stop``: tasks are cancelled and awaited, threads asked to stop and joined for at
   most half the grace period (one still running is waited for again after the settings
   stop, until the grace period ends: then exit code 3, the resources stopped);
4. ``stop``, 5. ``post_stop``: every resource whose start began, in reverse dependency order
   (all ``stop``, then all ``post_stop``);
6. ``settings stop``: etcd watches end; the state becomes ``stopped``;
7. ``logging stop``: the spans still queued are exported and tracing stops, then logging
   handlers are flushed and closed.

A hook, a stop or a post_stop that raises is logged with its traceback and the following ones
still run (a failing stop makes the exit code non-zero). ``run()`` forces the exit (code 3,
naming the stage that hung, e.g. ``stop of resource db``) when steps 1-6 take longer than
``system.shutdown_timeout_seconds`` (default 30), or on a second signal, even when a stop
blocks the event loop: a watchdog thread keeps the grace period and, from the start of the
shutdown, signals are handled by Python-level handlers (see :mod:`tamarco.core.watchdog`).

Restart of one resource while running (:meth:`~MicroserviceBase.restart_resource`): the
resource and every resource depending on it, transitively, ``stop`` in reverse dependency
order, then ``pre_start``, ``start`` and ``post_start`` (each stage over all of them, in
dependency order, as at start), within one timeout. It waits for the service to be running
and never runs during a stop.

The order above is :data:`tamarco.core.lifecycle.LIFECYCLE_ORDER`; a test checks both against
what a service really does.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import logging
import signal
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from tamarco.core.default_resources import build_default_resources, default_resource_factories
from tamarco.core.dependency_graph import resource_dependencies, start_order
from tamarco.core.errors import (
    InvalidSettingError,
    MicroserviceDefinitionError,
    ResourceRestartError,
    ResourceStartError,
    RestartCancelledError,
    UnknownResourceError,
)
from tamarco.core.lifecycle import LifecycleHooks, LifecycleStage, ServiceState, StageInProgress
from tamarco.core.logging.logging import Logging
from tamarco.core.redaction import Redactor
from tamarco.core.settings.backends.interface import SettingsBackend
from tamarco.core.settings.settings import ROOT_SETTINGS, Settings, SettingsView
from tamarco.core.tasks import TaskRunner, task, task_timer, thread
from tamarco.core.tracing import Tracing
from tamarco.core.watchdog import WATCHDOG_MARGIN, ShutdownWatchdog, force_exit
from tamarco.resources.bases import BaseResource, InputBase, StatusCodes

__all__ = [
    "EXIT_FAILURE",
    "EXIT_FORCED",
    "EXIT_OK",
    "InvalidSettingError",
    "Microservice",
    "MicroserviceBase",
    "MicroserviceContext",
    "ResourceRestartError",
    "RestartCancelledError",
    "ServiceState",
    "task",
    "task_timer",
    "thread",
]

EXIT_OK = 0
#: A resource failed to start, a stop step raised, or a restart was requested.
EXIT_FAILURE = 1
#: The graceful shutdown did not finish within the grace period, or a second signal came.
EXIT_FORCED = 3

DEFAULT_SHUTDOWN_TIMEOUT = 30.0
#: Settings the core reads, checked when the service starts (before any resource starts).
SHUTDOWN_TIMEOUT_KEY = f"{ROOT_SETTINGS}.shutdown_timeout_seconds"
DEPLOY_NAME_KEY = f"{ROOT_SETTINGS}.deploy_name"
#: The share of the grace period threads get to end before the resources stop regardless.
THREADS_SHARE_OF_GRACE = 0.5
#: Default time a :meth:`MicroserviceBase.restart_resource` attempt may take, stop to STARTED.
DEFAULT_RESTART_TIMEOUT = 30.0

_STAGE_BY_NAME = {stage.value: stage for stage in LifecycleStage}
#: Statuses a restarted resource may end in (CONNECTING and the like are waited for).
_SETTLED = (StatusCodes.STARTED, StatusCodes.FAILED, StatusCodes.STOPPED)


class MicroserviceBase:
    """What :class:`Microservice` and :class:`MicroserviceContext` share."""

    name: ClassVar[str | None] = None
    #: The service's version (``service.version`` of its traces), if it declares one.
    version: ClassVar[str | None] = None
    #: More logger names configured like the service's own logger.
    extra_loggers_names: ClassVar[list[str]] = []
    #: Whether the resources of the ``tamarco.default_resources`` entry points are added.
    use_default_resources: ClassVar[bool] = True

    def __init__(
        self, *, settings_backend: SettingsBackend | None = None, environ: dict[str, str] | None = None
    ) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise MicroserviceDefinitionError(
                f"{type(self).__name__} has no name: declare a class attribute, e.g. name = 'my_service'"
            )
        self.instance_id = uuid.uuid4().hex
        self._environ = environ
        self.settings = Settings(microservice_name=self.name, backend=settings_backend, environ=environ)
        #: Masks secrets (those of the settings too) in logs, ``/status`` and lifecycle errors.
        self.redactor = Redactor(source=lambda: self.settings.effective)
        self.logger = logging.getLogger(self.name)
        self.logging = Logging(self.redactor)
        #: Distributed tracing (OpenTelemetry), off unless ``system.tracing.enabled``.
        self.tracing = Tracing()
        self.deploy_name: str | None = None
        self.exit_code = EXIT_OK
        self.state = ServiceState.CREATED
        self.resources: dict[str, BaseResource] = self._collect_resources()
        #: ``{name: names it depends on}``, contracts in ``depends_on`` resolved to names.
        self.resource_dependencies = resource_dependencies(self.resources)
        self.resources_order = start_order(self.resource_dependencies)
        self.tasks = TaskRunner(self, self.logger)
        #: Where plugins hook into the lifecycle (see :mod:`tamarco.core.lifecycle`).
        self.hooks = LifecycleHooks(self.logger)
        self.hooks.on_resource_status(self._log_failed_transition)
        #: The step the service is in (``str()`` names it for humans), None between steps.
        self.current_stage: StageInProgress | None = None
        self._entered: list[str] = []
        self._state_changed = asyncio.Event()
        self._restart_lock = asyncio.Lock()
        self._restart_tasks: set[asyncio.Task[list[str]]] = set()
        self._restarting: frozenset[str] = frozenset()
        self._shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT

    # -- resources -----------------------------------------------------------------------

    def _collect_resources(self) -> dict[str, BaseResource]:
        cls = type(self)
        declared: dict[str, BaseResource] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, BaseResource):
                    declared[attr] = value
                elif attr in declared:
                    declared.pop(attr)  # replaced by a non-resource (None removes it)
        if self.use_default_resources:
            factories = default_resource_factories()
            skip = {name for name in factories if hasattr(cls, name)}
            for name, resource in build_default_resources(skip, factories).items():
                if not isinstance(resource, BaseResource):
                    raise MicroserviceDefinitionError(
                        f"default resource {name!r} is a {type(resource).__name__}, not a BaseResource"
                    )
                setattr(self, name, resource)
                declared[name] = resource
        return declared

    def _loggers_names(self) -> list[str]:
        names = [str(self.name), "tamarco", *self.extra_loggers_names]
        for resource in self.resources.values():
            names.extend(resource.loggers_names)
        return names

    def _enter(self, stage: LifecycleStage, resource: str | None = None) -> None:
        self.current_stage = StageInProgress(stage, resource)

    def _set_state(self, state: ServiceState) -> None:
        self.state = state
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def _setup(self) -> None:
        self._enter(LifecycleStage.PROVISIONAL_LOGGING)
        self.logging.configure_provisional(self._loggers_names())
        self._enter(LifecycleStage.SETTINGS_START)
        await self.settings.start()
        self._read_core_settings()
        await self.settings.watch(SHUTDOWN_TIMEOUT_KEY, self._on_shutdown_timeout_changed)
        await self.settings.watch(DEPLOY_NAME_KEY, self._on_deploy_name_changed)
        self._enter(LifecycleStage.LOGGING_START)
        self.logging.configure_settings(SettingsView(self.settings, f"{ROOT_SETTINGS}.logging"))
        await self.logging.start(self._loggers_names(), str(self.name), self.deploy_name, instance_id=self.instance_id)
        await self.settings.watch(f"{ROOT_SETTINGS}.logging", self._on_logging_settings_changed)
        self.tracing.start(
            service_name=str(self.name),
            version=self.version,
            deploy_name=self.deploy_name,
            instance_id=self.instance_id,
            redactor=self.redactor,
        )
        for name in self.resources_order:
            resource = self.resources[name]
            self._enter(LifecycleStage.BIND, name)
            # Listened to from here to the end of the stop: resource objects declared on a class
            # are shared by its instances, so a service listens only while it runs.
            resource.remove_status_listener(self.hooks.notify_resource_status)
            resource.add_status_listener(self.hooks.notify_resource_status)
            await resource.bind(self, name)  # type: ignore[arg-type]
            view = SettingsView(self.settings, f"{ROOT_SETTINGS}.resources.{name}")
            await resource.configure_settings(view)
            # Every resource: a change it cannot apply live is said, naming the resource.
            await view.watch(None, self._live_settings_callback(resource, view))
        self._bind_input_handlers()

    def _read_core_settings(self) -> None:
        """Check every setting the core reads (:class:`InvalidSettingError` naming the key)."""
        self._shutdown_timeout = _check_shutdown_timeout(
            self.settings.get_nowait(SHUTDOWN_TIMEOUT_KEY, DEFAULT_SHUTDOWN_TIMEOUT)
        )
        deploy_name = self.settings.get_nowait(DEPLOY_NAME_KEY, None)
        if deploy_name is not None and not isinstance(deploy_name, str):
            raise InvalidSettingError(DEPLOY_NAME_KEY, "a string", deploy_name)
        self.deploy_name = deploy_name
        self.tracing.configure(self.settings.get_nowait(f"{ROOT_SETTINGS}.tracing", None), self._environ)

    async def _on_shutdown_timeout_changed(self, key: str, value: Any) -> None:
        try:
            self._shutdown_timeout = _check_shutdown_timeout(DEFAULT_SHUTDOWN_TIMEOUT if value is None else value)
        except InvalidSettingError as error:
            self.logger.error("%s; keeping %g s", error, self._shutdown_timeout)
            return
        self.logger.info("setting %s applied live: %g s", key, self._shutdown_timeout)

    async def _on_deploy_name_changed(self, key: str, value: Any) -> None:
        self.logger.warning("setting %s changed; the service needs a restart to apply it", key)

    def _log_failed_transition(self, resource: BaseResource, old: StatusCodes, new: StatusCodes) -> None:
        """Every move to FAILED is logged once, whoever set it (a restart policy may follow)."""
        if new is not StatusCodes.FAILED or old is StatusCodes.FAILED:
            return
        reason = f": {self.redactor.text(resource.last_error)}" if resource.last_error else ""
        self.logger.error("resource %s is FAILED (was %s)%s", resource.name, old.name, reason)

    def _bind_input_handlers(self) -> None:
        for klass in type(self).__mro__:
            for attr, value in vars(klass).items():
                input_ = getattr(value, "_tamarco_input", None)
                if isinstance(input_, InputBase):
                    input_.bind_handler(getattr(self, attr))

    async def _on_logging_settings_changed(self, key: str, value: Any) -> None:
        try:
            await self.logging.reconfigure()
            self.logger.debug("logging settings applied after %s changed", key)
        except Exception as error:
            self.logger.error("logging settings not applied (%s); keeping the previous configuration", error)

    def _live_settings_callback(
        self, resource: BaseResource, view: SettingsView
    ) -> Callable[[str, Any], Awaitable[None]]:
        async def on_change(key: str, value: Any) -> None:
            relative = key[len(view.prefix) + 1 :]
            top = relative.split(".", 1)[0]
            if top in resource.live_settings:
                try:
                    await resource.apply_settings({relative: value})
                    self.logger.info("resource %s applied setting %s live", resource.name, key)
                except Exception:
                    self.logger.exception("resource %s failed to apply setting %s", resource.name, key)
            else:
                self.logger.warning("setting %s changed; resource %s needs a restart to apply it", key, resource.name)

        on_change.__qualname__ = f"settings of resource {resource.name}"

        return on_change

    async def _run_stage(self, stage: str) -> None:
        """Run ``stage`` of every resource in dependency order (reverse order for stops)."""
        stopping = stage in ("stop", "post_stop")
        names = [n for n in reversed(self.resources_order) if n in self._entered] if stopping else self.resources_order
        lifecycle_stage = _STAGE_BY_NAME[stage]
        for name in names:
            resource = self.resources[name]
            if stage == "pre_start" and name not in self._entered:
                self._entered.append(name)
            self._enter(lifecycle_stage, name)
            self.logger.debug("resource %s: %s", name, stage)
            try:
                if stage == "stop" and resource.status_code not in (StatusCodes.STOPPED, StatusCodes.NOT_STARTED):
                    resource.set_status(StatusCodes.STOPPING)
                await getattr(resource, stage)()
            except Exception as error:
                if stopping:
                    self.logger.exception("resource %s failed in %s", name, stage)
                    self.exit_code = self.exit_code or EXIT_FAILURE
                    continue
                resource.set_status(StatusCodes.FAILED, error)
                self.logger.exception("resource %s failed in %s", name, stage)
                if not await self._handle_resource_failure(resource, error):
                    raise ResourceStartError(name, stage, error, self.redactor.text) from error
        self.current_stage = None

    async def _handle_resource_failure(self, resource: BaseResource, error: BaseException) -> bool:
        """True when an ``on_start_failure`` hook (a restart policy) took charge of the failure."""
        return await self.hooks.run_start_failure(resource, error)

    async def _stage(self, stage: str) -> None:
        """Run one lifecycle stage. The service's overridable hooks go through here."""
        await self._run_stage(stage)

    # -- lifecycle drivers ---------------------------------------------------------------

    async def _start_all(self) -> None:
        """Start steps 1-9 of the module docstring."""
        self._set_state(ServiceState.STARTING)
        await self._setup()
        for stage in ("pre_start", "start", "post_start"):
            self.logger.info("lifecycle: %s", stage)
            await self._stage(stage)
        self._enter(LifecycleStage.TASKS_START)
        self.tasks.start()
        self._set_state(ServiceState.RUNNING)
        self.logger.info("lifecycle: running")
        self._enter(LifecycleStage.RUNNING_HOOKS)
        await self.hooks.run_running()
        self.current_stage = None

    async def _stop_all(self) -> None:
        """Stop steps 1-6 of the module docstring (logging stops after, in the caller)."""
        grace = self.shutdown_timeout()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        self._set_state(ServiceState.STOPPING)
        self._enter(LifecycleStage.RESTARTS_CANCEL)
        await self._cancel_restarts()
        self._enter(LifecycleStage.STOPPING_HOOKS)
        await self.hooks.run_stopping()
        self._enter(LifecycleStage.TASKS_STOP)
        # Threads get part of the grace period: one that never ends must not keep the
        # resources from stopping.
        await self.tasks.stop(grace * THREADS_SHARE_OF_GRACE)
        for stage in ("stop", "post_stop"):
            self.logger.info("lifecycle: %s", stage)
            await self._stage(stage)
        self._entered.clear()
        self._enter(LifecycleStage.SETTINGS_STOP)
        await self.settings.stop()
        for resource in self.resources.values():
            resource.remove_status_listener(self.hooks.notify_resource_status)
        if self.tasks.stragglers:
            self._enter(LifecycleStage.TASKS_STOP)
            margin = min(WATCHDOG_MARGIN, grace / 10)
            still = await self.tasks.join_stragglers(deadline - loop.time() - margin)
            if still:
                self.logger.critical(
                    "thread%s %s did not stop within the grace period of %g s (resources stopped); exit code %d",
                    "s" if len(still) > 1 else "",
                    ", ".join(still),
                    grace,
                    EXIT_FORCED,
                )
                self.exit_code = EXIT_FORCED
        self.current_stage = None
        self._set_state(ServiceState.STOPPED)

    async def _stop_logging(self) -> None:
        self._enter(LifecycleStage.LOGGING_STOP)
        await self.tracing.stop()
        await self.logging.stop()
        self.current_stage = None

    # -- restarting a resource -----------------------------------------------------------

    @property
    def restarting_resources(self) -> frozenset[str]:
        """The resources a :meth:`restart_resource` in progress is stopping or starting."""
        return self._restarting

    def dependents(self, name: str) -> list[str]:
        """The resources that depend on ``name``, directly or not, in start order."""
        if name not in self.resources:
            raise UnknownResourceError(name, list(self.resources))
        found = {name}
        for candidate in self.resources_order:  # dependencies come first in this order
            if any(dependency in found for dependency in self.resource_dependencies[candidate]):
                found.add(candidate)
        return [n for n in self.resources_order if n in found and n != name]

    async def restart_resource(self, name: str, *, timeout: float = DEFAULT_RESTART_TIMEOUT) -> list[str]:
        """Restart resource ``name`` and every resource depending on it; return their names.

        They ``stop`` in reverse dependency order, then go through ``pre_start``, ``start`` and
        ``post_start`` in dependency order (each stage over all of them, as at start), and must
        end STARTED (a CONNECTING resource is waited for) within ``timeout`` seconds. Their
        status moves STOPPING, STOPPED, then what their stages set. Waits until the service is
        running; one restart runs at a time.

        Raises :class:`UnknownResourceError` for a name the service lacks,
        :class:`ResourceRestartError` naming the resource and stage that failed (that resource
        is FAILED, the ones after it stay STOPPED), and :class:`RestartCancelledError` when
        the service stops first or meanwhile.
        """
        if name not in self.resources:
            raise UnknownResourceError(name, list(self.resources))
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"restart_resource({name!r}): timeout must be a positive number, got {timeout!r}")
        while self.state in (ServiceState.CREATED, ServiceState.STARTING):
            await self._state_changed.wait()  # never race the service's own start
        async with self._restart_lock:
            if self.state is not ServiceState.RUNNING:
                raise RestartCancelledError(name, None, self.state.value)
            chain = asyncio.get_running_loop().create_task(
                self._restart_chain(name, float(timeout)), name=f"tamarco:restart:{name}"
            )
            self._restart_tasks.add(chain)
            try:
                await asyncio.wait({chain})
            except asyncio.CancelledError:  # our caller was cancelled: so is the restart
                chain.cancel()
                await asyncio.gather(chain, return_exceptions=True)
                raise
            finally:
                self._restart_tasks.discard(chain)
                self._restarting = frozenset()
            return chain.result()

    async def _cancel_restarts(self) -> None:
        chains = list(self._restart_tasks)
        for chain in chains:
            chain.cancel()
        await asyncio.gather(*chains, return_exceptions=True)

    async def _restart_chain(self, name: str, timeout: float) -> list[str]:
        names = [name, *self.dependents(name)]
        self._restarting = frozenset(names)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        step = StageInProgress(LifecycleStage.STOP, name, restart=True)
        self.logger.info(
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
            except asyncio.TimeoutError:
                raise TimeoutError(
                    f"{step.stage.value} did not finish within the restart timeout of {timeout:g} s"
                ) from None

        try:
            for current in reversed(names):
                resource = self.resources[current]
                step = StageInProgress(LifecycleStage.STOP, current, restart=True)
                self.logger.debug("restart: resource %s: stop", current)
                if resource.status_code not in (StatusCodes.STOPPED, StatusCodes.NOT_STARTED):
                    resource.set_status(StatusCodes.STOPPING)
                try:
                    await within_deadline(resource.stop())
                except TimeoutError as error:
                    resource.set_status(StatusCodes.FAILED, error)
                    raise ResourceRestartError(name, current, step.stage.value, error, self.redactor.text) from error
                except Exception as error:  # a broken resource often fails to stop too: start anyway
                    self.logger.warning(
                        "resource %s: stop before restart failed: %s: %s", current, type(error).__name__, error
                    )
            for stage in (LifecycleStage.PRE_START, LifecycleStage.START, LifecycleStage.POST_START):
                for current in names:
                    resource = self.resources[current]
                    step = StageInProgress(stage, current, restart=True)
                    self.logger.debug("restart: resource %s: %s", current, stage.value)
                    try:
                        await within_deadline(getattr(resource, stage.value)())
                    except Exception as error:
                        resource.set_status(StatusCodes.FAILED, error)
                        raise ResourceRestartError(name, current, stage.value, error, self.redactor.text) from error
            for current in names:
                await self._wait_settled(name, current, deadline, timeout)
        except asyncio.CancelledError:
            raise RestartCancelledError(name, str(step), self.state.value) from None
        self.logger.info("restarted resource%s %s: STARTED", "s" if len(names) > 1 else "", ", ".join(names))
        return names

    async def _wait_settled(self, restarted: str, name: str, deadline: float, timeout: float) -> None:
        """Wait for ``name`` to leave CONNECTING (or the like) for STARTED; raise otherwise."""
        resource = self.resources[name]
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

    def shutdown_timeout(self) -> float:
        """The grace period (``system.shutdown_timeout_seconds``, checked at start), 30 s by default."""
        return self._shutdown_timeout

    def add_task(self, name: str, coroutine: Any) -> asyncio.Task[Any]:
        """Run a coroutine as a task of the service (logged if it fails, cancelled on stop)."""
        return self.tasks.add(name, coroutine)


class Microservice(MicroserviceBase):
    """Base class of every service. Declare ``name`` and resources as class attributes.

    The lifecycle hooks ``pre_start``, ``start``, ``post_start``, ``stop`` and ``post_stop`` can be
    overridden; call ``await super().<hook>()`` to run the resources' hooks.
    """

    def __init__(
        self, *, settings_backend: SettingsBackend | None = None, environ: dict[str, str] | None = None
    ) -> None:
        super().__init__(settings_backend=settings_backend, environ=environ)
        self._stop_requested: asyncio.Event | None = None
        self._signals = 0
        #: Signals registered with the event loop, and those handled directly by Python from
        #: the start of the shutdown (the loop's registration stays: removing it would reset
        #: the signal to its default action for a moment; ``_on_signal`` ignores them then).
        self._loop_signals: list[int] = []
        self._direct_signals: set[int] = set()

    async def pre_start(self) -> None:
        """Pre start stage: runs ``pre_start`` of every resource."""
        await self._run_stage("pre_start")

    async def start(self) -> None:
        """Start stage: runs ``start`` of every resource (their I/O begins here)."""
        await self._run_stage("start")

    async def post_start(self) -> None:
        """Post start stage: runs ``post_start`` of every resource."""
        await self._run_stage("post_start")

    async def stop(self) -> None:
        """Stop stage: runs ``stop`` of every resource, in reverse order."""
        await self._run_stage("stop")

    async def post_stop(self) -> None:
        """Post stop stage: runs ``post_stop`` of every resource, in reverse order."""
        await self._run_stage("post_stop")

    async def _stage(self, stage: str) -> None:
        await getattr(self, stage)()

    async def stop_gracefully(self, exit_code: int = EXIT_OK, reason: str | None = None) -> None:
        """Ask the service to shut down. Returns at once; ``run()`` does the stopping.

        A non-zero ``exit_code`` (a restart policy, a fatal error) becomes the process's exit
        code unless an earlier one was set.
        """
        if exit_code and not self.exit_code:
            self.exit_code = exit_code
        if reason:
            self.logger.info("stop requested: %s", reason)
        if self._stop_requested is not None:
            self._stop_requested.set()
        elif self.state in (ServiceState.STARTING, ServiceState.RUNNING):
            await self._stop_all()

    #: Event loop for :meth:`run`: ``"auto"`` (uvloop when installed — Sanic installs it on
    #: Linux — else asyncio's), ``"uvloop"`` (required) or ``"asyncio"``.
    event_loop: ClassVar[str] = "auto"

    def run(self) -> None:
        """Run the service until it is stopped, then exit the process with its exit code."""
        _freeze_gc_at_exit()
        code = run_coroutine(self.run_until_stopped(), self.event_loop)
        raise SystemExit(code)

    async def run_until_stopped(self) -> int:
        """Start, serve until a signal or ``stop_gracefully()``, stop; return the exit code.

        Installs SIGTERM/SIGINT handlers. A stop longer than the grace period ends the process
        with :data:`EXIT_FORCED` (this is the one place Tamarco exits the process itself).
        """
        loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._loop_signals = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
                self._loop_signals.append(signum)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                pass
        try:
            starting = loop.create_task(self._start_all(), name=f"tamarco:start:{self.name}")
            stop_wait = loop.create_task(self._stop_requested.wait())
            await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                self.logger.info("stop requested while starting (during %s)", self.current_stage or "setup")
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
            elif starting.exception() is not None:
                error = starting.exception()
                self.logger.error("%s failed to start: %s", self.name, error, exc_info=error)
                self.exit_code = self.exit_code or EXIT_FAILURE
                self._stop_requested.set()
            await stop_wait
            await self._shutdown_with_grace()
            self.logger.info("lifecycle: stopped (exit code %d)", self.exit_code)
            await self._stop_logging()
            return self.exit_code
        finally:
            for installed in self._loop_signals:
                loop.remove_signal_handler(installed)  # back to the default action
            self._loop_signals = []
            self._direct_signals = set()
            self._stop_requested = None

    async def _shutdown_with_grace(self) -> None:
        """Steps 1-6 of the stop, forced past the grace period even if the loop is blocked.

        A :class:`~tamarco.core.watchdog.ShutdownWatchdog` thread and Python-level signal
        handlers (run by the interpreter between bytecodes, not by the loop) take over from
        the loop: a ``stop()`` stuck in ``time.sleep`` still ends in exit code 3.
        """
        grace = self.shutdown_timeout()
        watchdog = ShutdownWatchdog(
            grace + WATCHDOG_MARGIN,
            lambda: f"shutdown took longer than {grace:g} s, stuck in {self._stuck_in()}; the event loop is blocked",
            self._force_exit,
        )
        watchdog.arm()
        self._handle_signals_directly()
        try:
            stopping = asyncio.get_running_loop().create_task(self._stop_all(), name=f"tamarco:stop:{self.name}")
            done, _ = await asyncio.wait({stopping}, timeout=grace)
            if not done:
                self._force_exit(f"shutdown took longer than {grace:g} s, stuck in {self._stuck_in()}")
            elif stopping.exception() is not None:
                error = stopping.exception()
                self.logger.error("error while stopping: %s", error, exc_info=error)
                self.exit_code = self.exit_code or EXIT_FAILURE
        finally:
            watchdog.disarm()

    def _stuck_in(self) -> str:
        where = str(self.current_stage or "an unknown stage")
        stragglers = self.tasks.stragglers
        if stragglers:
            where += f" (threads still running: {', '.join(stragglers)})"
        return where

    def _handle_signals_directly(self) -> None:
        """From the loop's signal handlers to Python's: the loop may be what is stuck."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self._loop_signals:
            signal.signal(signum, self._on_signal_during_shutdown)  # replaces the loop's, atomically
            self._direct_signals.add(signum)

    def _on_signal_during_shutdown(self, signum: int, frame: Any) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            self._force_exit(f"second {name} during shutdown (stuck in {self._stuck_in()})")
        try:
            asyncio.get_running_loop().call_soon_threadsafe(self.logger.info, "received %s, already stopping", name)
        except RuntimeError:  # no loop running in this frame: report it from here
            self.logger.info("received %s, already stopping", name)

    def _on_signal(self, signum: int) -> None:
        if signum in self._direct_signals:
            return  # counted by _on_signal_during_shutdown already
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1 and self.state is ServiceState.STOPPING:
            self._force_exit(f"second {name} during shutdown (stuck in {self.current_stage or 'an unknown stage'})")
        self.logger.info("received %s, stopping gracefully", name)
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _force_exit(self, reason: str) -> None:
        """Exit with :data:`EXIT_FORCED` now, from any thread (see :func:`tamarco.core.watchdog.force_exit`)."""
        force_exit(EXIT_FORCED, reason, self.logger, lambda: self.logging.handlers)


_gc_freeze_registered = False


def _freeze_gc_at_exit() -> None:
    """At interpreter exit, exempt every object left from the final garbage collections.

    With a framework's worth of modules loaded (~50k tracked objects), those collections were
    most of the time from SIGTERM to the process being gone: ~110 ms, ~16 ms without them
    (benchmarks/service_lifecycle.py). The service has stopped and flushed its logs by then;
    what is still alive is freed with the process (cyclic garbage left at exit is not
    finalized, which Python does not promise anyway). Registered with ``atexit`` so that a
    process that goes on after ``run()`` (a test catching ``SystemExit``) is unaffected.
    """
    global _gc_freeze_registered
    if not _gc_freeze_registered:
        atexit.register(gc.freeze)
        _gc_freeze_registered = True


def _check_shutdown_timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise InvalidSettingError(SHUTDOWN_TIMEOUT_KEY, "a number of seconds greater than 0", value)
    return float(value)


def run_coroutine(coroutine: Coroutine[Any, Any, int], event_loop: str = "auto") -> int:
    """Run ``coroutine`` to completion on a new loop of the kind ``event_loop`` names."""
    if event_loop not in ("auto", "uvloop", "asyncio"):
        coroutine.close()
        raise MicroserviceDefinitionError(f"event_loop must be 'auto', 'uvloop' or 'asyncio', not {event_loop!r}")
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                coroutine.close()
                raise MicroserviceDefinitionError("event_loop = 'uvloop' but uvloop is not installed") from None
        else:
            return int(uvloop.run(coroutine))
    return asyncio.run(coroutine)


class MicroserviceContext(MicroserviceBase):
    """Tamarco's settings, logging and resources for a script or a test, without ``run()``.

    ``async with MyContext() as ctx: ...`` or ``await ctx.start()`` / ``await ctx.stop()``.
    Declare resources as class attributes as on a Microservice. Default resources (report
    server, metrics, status) are not added unless ``use_default_resources = True``.
    """

    name: ClassVar[str | None] = "microservice_context"
    use_default_resources: ClassVar[bool] = False

    def __init__(
        self,
        name: str | None = None,
        *,
        settings_backend: SettingsBackend | None = None,
        environ: dict[str, str] | None = None,
    ) -> None:
        if name is not None:
            self.name = name  # type: ignore[misc]
        super().__init__(settings_backend=settings_backend, environ=environ)

    async def start(self) -> None:
        """Run the whole start sequence (settings, logging, resources, tasks)."""
        await self._start_all()

    async def stop(self) -> None:
        """Run the whole stop sequence, within the grace period (TimeoutError past it)."""
        await asyncio.wait_for(self._stop_all(), timeout=self.shutdown_timeout())
        await self._stop_logging()

    async def stop_gracefully(self, exit_code: int = EXIT_OK, reason: str | None = None) -> None:
        if exit_code and not self.exit_code:
            self.exit_code = exit_code
        if self.state in (ServiceState.STARTING, ServiceState.RUNNING):
            await self.stop()

    async def __aenter__(self) -> MicroserviceContext:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.stop()

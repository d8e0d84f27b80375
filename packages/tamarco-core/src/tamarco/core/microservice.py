"""The microservice: resources, lifecycle, tasks, signals and graceful shutdown.

Start (``run()`` or ``MicroserviceContext.start()``); the state goes ``created`` → ``starting``:

1. ``provisional logging``: stdout logging, so errors while loading the settings are visible;
2. ``settings start``: internal defaults, then the external source (file or etcd); the
   settings the core reads are checked (:class:`InvalidSettingError` naming the key);
3. ``logging start``: logging configured from ``system.logging`` (its handlers start), then tracing;
4. ``bind``: each resource, in dependency order (``depends_on``), is bound (``bind(service,
   name)``) and given its settings view (``configure_settings``, ``system.resources.<name>``);
5. ``settings check``: each resource's ``check_settings``; the wrong settings of all fail the
   start together (:class:`ResourceSettingsError`), before anything connects;
6. ``pre_start``, 7. ``start``, 8. ``post_start``: the service's overridable stage
   methods, each running the same method of every resource in dependency order. A resource
   that raises becomes FAILED and the ``on_start_failure`` hooks are awaited: unless one
   takes charge (a restart policy), the start fails (:class:`ResourceStartError`);
9. ``tasks start``: the ``@task``, ``@task_timer`` and ``@thread`` methods; the state becomes
   ``running``;
10. ``running hooks``: the ``on_running`` hooks, in registration order (a service registry
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
7. ``logging stop``: queued spans exported (tracing stops), logging handlers flushed and closed.

A hook, a stop or a post_stop that raises is logged with its traceback and the following ones
still run (a failing stop makes the exit code non-zero). ``run()`` forces the exit (code 3,
naming the stage that hung, e.g. ``stop of resource db``) when steps 1-6 take longer than
``system.shutdown_timeout_seconds`` (default 30), or on a second signal, even when a stop
blocks the event loop: a watchdog thread keeps the grace period and, from the start of the
shutdown, signals are handled by Python-level handlers (:mod:`tamarco.core.running`,
:mod:`tamarco.core.watchdog`).

Restart of one resource while running (:meth:`~MicroserviceBase.restart_resource`): the
resource and every resource depending on it, transitively, ``stop`` in reverse dependency
order, then ``pre_start``, ``start`` and ``post_start`` (each stage over all of them, in
dependency order, as at start), within one timeout. It waits for the service to be running
and never runs during a stop (:mod:`tamarco.core.restarts`).

The order above is :data:`tamarco.core.lifecycle.LIFECYCLE_ORDER`; a test checks both against
what a service really does.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, ClassVar

from tamarco.core.core_settings import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    DEPLOY_NAME_KEY,
    SHUTDOWN_TIMEOUT_KEY,
    check_deploy_name,
    check_resources_settings,
    check_shutdown_timeout,
    resource_settings_watcher,
)
from tamarco.core.default_resources import bind_input_handlers, collect_resources, library_levels, resources_loggers
from tamarco.core.dependency_graph import resource_dependencies, start_order
from tamarco.core.errors import (
    ExpectedStartFailure,
    InvalidSettingError,
    MicroserviceDefinitionError,
    ResourceRestartError,
    ResourceStartError,
    RestartCancelledError,
)
from tamarco.core.lifecycle import LifecycleHooks, LifecycleStage, ServiceState, StageInProgress
from tamarco.core.logging.logging import Logging
from tamarco.core.redaction import Redactor
from tamarco.core.restarts import DEFAULT_RESTART_TIMEOUT, ResourceRestarts
from tamarco.core.running import EXIT_FAILURE, EXIT_FORCED, EXIT_OK, SignalledRun, freeze_gc_at_exit, run_coroutine
from tamarco.core.settings.backends.interface import SettingsBackend
from tamarco.core.settings.settings import ROOT_SETTINGS, Settings, SettingsView
from tamarco.core.tasks import TaskRunner, task, task_timer, thread
from tamarco.core.tracing import Tracing
from tamarco.core.watchdog import WATCHDOG_MARGIN
from tamarco.resources.bases import BaseResource, StatusCodes

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
    "run_coroutine",
    "task",
    "task_timer",
    "thread",
]

#: The share of the grace period threads get to end before the resources stop regardless.
THREADS_SHARE_OF_GRACE = 0.5
_STOP_STAGES = (LifecycleStage.STOP, LifecycleStage.POST_STOP)


class MicroserviceBase:
    """What :class:`Microservice` and :class:`MicroserviceContext` share."""

    name: ClassVar[str | None] = None
    version: ClassVar[str | None] = None  # ``service.version`` of its traces, when declared
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
        self.settings = Settings(microservice_name=self.name, backend=settings_backend, environ=environ)
        #: Masks secrets (those of the settings too) in logs, ``/status`` and lifecycle errors.
        self.redactor = Redactor(source=lambda: self.settings.effective)
        self.logger = logging.getLogger(self.name)
        self.logging = Logging(self.redactor)
        self.tracing = Tracing()  # OpenTelemetry spans, off unless system.tracing.enabled
        self.deploy_name: str | None = None
        self.exit_code = EXIT_OK
        self.state = ServiceState.CREATED
        self.resources: dict[str, BaseResource] = collect_resources(self, self.use_default_resources)
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
        #: Restarts of one resource and its dependents (:meth:`restart_resource`).
        self.restarts = ResourceRestarts(self, self.logger, self.redactor.text)
        self._shutdown_timeout = DEFAULT_SHUTDOWN_TIMEOUT

    # -- resources -----------------------------------------------------------------------

    def _loggers_names(self) -> list[str]:
        return [str(self.name), "tamarco", *self.extra_loggers_names, *resources_loggers(self.resources.values())]

    def _enter(self, stage: LifecycleStage, resource: str | None = None) -> None:
        self.current_stage = StageInProgress(stage, resource)

    def _set_state(self, state: ServiceState) -> None:
        self.state = state
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def _setup(self) -> None:
        self._enter(LifecycleStage.PROVISIONAL_LOGGING)
        self.logging.library_levels = library_levels(self.resources.values(), self.extra_loggers_names)
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
        self.tracing.start_for(self)
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
            await view.watch(None, resource_settings_watcher(resource, view, self.logger))
        bind_input_handlers(self)
        await check_resources_settings(
            self.resources, self.resources_order, self._enter, self.logger, self.redactor.text
        )

    def _read_core_settings(self) -> None:
        """Check every setting the core reads (:class:`InvalidSettingError` naming the key)."""
        self._shutdown_timeout = check_shutdown_timeout(
            self.settings.get_nowait(SHUTDOWN_TIMEOUT_KEY, DEFAULT_SHUTDOWN_TIMEOUT)
        )
        self.deploy_name = check_deploy_name(self.settings.get_nowait(DEPLOY_NAME_KEY, None))
        self.tracing.configure(self.settings.get_nowait(f"{ROOT_SETTINGS}.tracing", None), self.settings.environ)

    async def _on_shutdown_timeout_changed(self, key: str, value: Any) -> None:
        try:
            self._shutdown_timeout = check_shutdown_timeout(DEFAULT_SHUTDOWN_TIMEOUT if value is None else value)
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
        # An expected failure while starting (a port in use) is reported once, by the start.
        expected = self.state is ServiceState.STARTING and isinstance(resource.last_exception, ExpectedStartFailure)
        level = logging.DEBUG if expected else logging.ERROR
        self.logger.log(level, "resource %s is FAILED (was %s)%s", resource.name, old.name, reason)

    async def _on_logging_settings_changed(self, key: str, value: Any) -> None:
        try:
            await self.logging.reconfigure()
            self.logger.debug("logging settings applied after %s changed", key)
        except Exception as error:
            self.logger.error("logging settings not applied (%s); keeping the previous configuration", error)

    async def _run_stage(self, stage: LifecycleStage) -> None:
        """Run ``stage`` of every resource in dependency order (reverse order for stops)."""
        stopping = stage in _STOP_STAGES
        names = [n for n in reversed(self.resources_order) if n in self._entered] if stopping else self.resources_order
        method = stage.value
        for name in names:
            resource = self.resources[name]
            if stage is LifecycleStage.PRE_START and name not in self._entered:
                self._entered.append(name)
            self._enter(stage, name)
            self.logger.debug("resource %s: %s", name, method)
            try:
                if stage is LifecycleStage.STOP and resource.status_code not in (
                    StatusCodes.STOPPED,
                    StatusCodes.NOT_STARTED,
                ):
                    resource.set_status(StatusCodes.STOPPING)
                await getattr(resource, method)()
            except Exception as error:
                if stopping:
                    self.logger.exception("resource %s failed in %s", name, method)
                    self.exit_code = self.exit_code or EXIT_FAILURE
                    continue
                resource.set_status(StatusCodes.FAILED, error)
                if isinstance(error, ExpectedStartFailure):  # the message says what to do
                    self.logger.debug("resource %s failed in %s", name, method, exc_info=error)
                else:
                    self.logger.exception("resource %s failed in %s", name, method)
                if not await self.hooks.run_start_failure(resource, error):  # else a restart policy took charge
                    raise ResourceStartError(name, method, error, self.redactor.text) from error
        self.current_stage = None

    async def _stage(self, stage: LifecycleStage) -> None:
        """Run one lifecycle stage. The service's overridable hooks go through here."""
        await self._run_stage(stage)

    # -- lifecycle drivers ---------------------------------------------------------------

    async def _start_all(self) -> None:
        """Start steps 1-10 of the module docstring."""
        self._set_state(ServiceState.STARTING)
        await self._setup()
        for stage in (LifecycleStage.PRE_START, LifecycleStage.START, LifecycleStage.POST_START):
            self.logger.info("lifecycle: %s", stage.value)
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
        for stage in _STOP_STAGES:
            self.logger.info("lifecycle: %s", stage.value)
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

    # -- restarting a resource (the machinery: tamarco.core.restarts) ----------------------

    @property
    def restarting_resources(self) -> frozenset[str]:
        """The resources a :meth:`restart_resource` in progress is stopping or starting."""
        return self.restarts.restarting

    def dependents(self, name: str) -> list[str]:
        """The resources that depend on ``name``, directly or not, in start order."""
        return self.restarts.dependents(name)

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
        return await self.restarts.restart(name, timeout)

    async def _cancel_restarts(self) -> None:
        await self.restarts.cancel()

    async def _wait_past_start(self) -> None:
        while self.state in (ServiceState.CREATED, ServiceState.STARTING):
            await self._state_changed.wait()

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
        #: The run in progress (signals, grace period), while :meth:`run_until_stopped` runs.
        self._run: SignalledRun | None = None

    async def pre_start(self) -> None:
        """Pre start stage: runs ``pre_start`` of every resource."""
        await self._run_stage(LifecycleStage.PRE_START)

    async def start(self) -> None:
        """Start stage: runs ``start`` of every resource (their I/O begins here)."""
        await self._run_stage(LifecycleStage.START)

    async def post_start(self) -> None:
        """Post start stage: runs ``post_start`` of every resource."""
        await self._run_stage(LifecycleStage.POST_START)

    async def stop(self) -> None:
        """Stop stage: runs ``stop`` of every resource, in reverse order."""
        await self._run_stage(LifecycleStage.STOP)

    async def post_stop(self) -> None:
        """Post stop stage: runs ``post_stop`` of every resource, in reverse order."""
        await self._run_stage(LifecycleStage.POST_STOP)

    async def _stage(self, stage: LifecycleStage) -> None:
        await getattr(self, stage.value)()

    async def stop_gracefully(self, exit_code: int = EXIT_OK, reason: str | None = None) -> None:
        """Ask the service to shut down. Returns at once; ``run()`` does the stopping.

        A non-zero ``exit_code`` (a restart policy, a fatal error) becomes the process's exit
        code unless an earlier one was set.
        """
        if exit_code and not self.exit_code:
            self.exit_code = exit_code
        if reason:
            self.logger.info("stop requested: %s", reason)
        if self._run is not None:
            self._run.stop_requested.set()
        elif self.state in (ServiceState.STARTING, ServiceState.RUNNING):
            await self._stop_all()

    #: Event loop for :meth:`run`: ``"auto"`` (uvloop when installed — Sanic installs it on
    #: Linux — else asyncio's), ``"uvloop"`` (required) or ``"asyncio"``.
    event_loop: ClassVar[str] = "auto"

    def run(self) -> None:
        """Run the service until it is stopped, then exit the process with its exit code."""
        freeze_gc_at_exit()
        code = run_coroutine(self.run_until_stopped(), self.event_loop)
        raise SystemExit(code)

    async def run_until_stopped(self) -> int:
        """Start, serve until a signal or ``stop_gracefully()``, stop; return the exit code.

        Installs SIGTERM/SIGINT handlers. A stop longer than the grace period ends the process
        with :data:`EXIT_FORCED` (see :mod:`tamarco.core.running`).
        """
        self._run = SignalledRun(self)
        try:
            return await self._run.run()
        finally:
            self._run = None


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
        """Run the start sequence; if it raises, ``await stop()`` releases what started (``async with`` does it)."""
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

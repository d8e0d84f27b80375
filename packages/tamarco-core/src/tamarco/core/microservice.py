"""The microservice: resources, lifecycle, tasks, signals and graceful shutdown.

Start (``run()`` or ``MicroserviceContext.start()``):

1. provisional logging (stdout) so that errors while loading settings are visible;
2. settings: internal defaults, then the external source (file or etcd);
3. logging configured from ``system.logging``;
4. resources bound and given their settings view (``system.resources.<name>``);
5. ``pre_start``, ``start``, ``post_start``: the service's hooks, each running the same hook
   of every resource in dependency order (``depends_on``);
6. the ``@task``, ``@task_timer`` and ``@thread`` methods.

Stop (``stop_gracefully()``, SIGTERM or SIGINT):

1. tasks are cancelled and awaited, threads asked to stop;
2. ``stop`` then ``post_stop``: every resource in reverse dependency order (only those whose
   start began); an error is logged and the others still stop;
3. settings stop (etcd watches end) and logging handlers are flushed.

``run()`` forces the exit (non-zero code, naming the stage that hung) when the stop takes longer
than ``system.shutdown_timeout_seconds`` (default 30), or on a second signal.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from tamarco.core.default_resources import build_default_resources, default_resource_factories
from tamarco.core.dependency_graph import resource_dependencies, start_order
from tamarco.core.errors import MicroserviceDefinitionError, ResourceStartError
from tamarco.core.logging.logging import Logging
from tamarco.core.settings.backends.interface import SettingsBackend
from tamarco.core.settings.settings import ROOT_SETTINGS, Settings, SettingsView
from tamarco.core.tasks import TaskRunner, task, task_timer, thread
from tamarco.resources.bases import BaseResource, InputBase, StatusCodes

__all__ = [
    "EXIT_FAILURE",
    "EXIT_FORCED",
    "EXIT_OK",
    "Microservice",
    "MicroserviceBase",
    "MicroserviceContext",
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

ResourceFailureHandler = Callable[[BaseResource, BaseException], Awaitable[bool]]


class MicroserviceBase:
    """What :class:`Microservice` and :class:`MicroserviceContext` share."""

    name: ClassVar[str | None] = None
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
        self.logger = logging.getLogger(self.name)
        self.logging = Logging()
        self.deploy_name: str | None = None
        self.exit_code = EXIT_OK
        self.state = "created"
        self.resources: dict[str, BaseResource] = self._collect_resources()
        #: ``{name: names it depends on}``, contracts in ``depends_on`` resolved to names.
        self.resource_dependencies = resource_dependencies(self.resources)
        self.resources_order = start_order(self.resource_dependencies)
        self.tasks = TaskRunner(self, self.logger)
        self.resource_failure_handlers: list[ResourceFailureHandler] = []
        self.current_stage: str | None = None
        self._entered: list[str] = []
        #: Awaited once every resource's ``post_start`` ran and the tasks started (the service is
        #: up), and first thing on stop, before the tasks: where a service registry hooks in.
        self.running_hooks: list[Callable[[], Awaitable[None]]] = []
        self.stopping_hooks: list[Callable[[], Awaitable[None]]] = []

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

    async def _setup(self) -> None:
        self.logging.configure_provisional(self._loggers_names())
        await self.settings.start()
        self.deploy_name = await self.settings.get(f"{ROOT_SETTINGS}.deploy_name", None)
        self.logging.configure_settings(SettingsView(self.settings, f"{ROOT_SETTINGS}.logging"))
        await self.logging.start(self._loggers_names(), str(self.name), self.deploy_name, instance_id=self.instance_id)
        await self.settings.watch(f"{ROOT_SETTINGS}.logging", self._on_logging_settings_changed)
        for name in self.resources_order:
            resource = self.resources[name]
            await resource.bind(self, name)  # type: ignore[arg-type]
            view = SettingsView(self.settings, f"{ROOT_SETTINGS}.resources.{name}")
            await resource.configure_settings(view)
            if resource.live_settings:
                await view.watch(None, self._live_settings_callback(resource, view))
        self._bind_input_handlers()

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

        return on_change

    async def _run_stage(self, stage: str) -> None:
        """Run ``stage`` of every resource in dependency order (reverse order for stops)."""
        stopping = stage in ("stop", "post_stop")
        names = [n for n in reversed(self.resources_order) if n in self._entered] if stopping else self.resources_order
        for name in names:
            resource = self.resources[name]
            if stage == "pre_start" and name not in self._entered:
                self._entered.append(name)
            self.current_stage = f"{stage} of resource {name}"
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
                    raise ResourceStartError(name, stage, error) from error
        self.current_stage = None

    async def _handle_resource_failure(self, resource: BaseResource, error: BaseException) -> bool:
        """True when a handler (a restart policy) took charge of the failure."""
        handled = False
        for handler in list(self.resource_failure_handlers):
            try:
                handled = bool(await handler(resource, error)) or handled
            except Exception:
                self.logger.exception("resource failure handler %r failed", handler)
        return handled

    async def _stage(self, stage: str) -> None:
        """Run one lifecycle stage. The service's overridable hooks go through here."""
        await self._run_stage(stage)

    # -- lifecycle drivers ---------------------------------------------------------------

    async def _start_all(self) -> None:
        self.state = "starting"
        await self._setup()
        for stage in ("pre_start", "start", "post_start"):
            self.logger.info("lifecycle: %s", stage)
            await self._stage(stage)
        self.tasks.start()
        self.state = "running"
        self.logger.info("lifecycle: running")
        for hook in list(self.running_hooks):
            await hook()

    async def _stop_all(self) -> None:
        self.state = "stopping"
        self.current_stage = "stopping hooks"
        for hook in list(self.stopping_hooks):
            try:
                await hook()
            except Exception:
                self.logger.exception("stopping hook %r failed", hook)
        self.current_stage = "stopping tasks"
        await self.tasks.stop(self.shutdown_timeout())
        for stage in ("stop", "post_stop"):
            self.logger.info("lifecycle: %s", stage)
            await self._stage(stage)
        self._entered.clear()
        self.current_stage = "stopping settings"
        await self.settings.stop()
        self.current_stage = None
        self.state = "stopped"

    def shutdown_timeout(self) -> float:
        """The grace period (``system.shutdown_timeout_seconds``), 30 s by default."""
        if not self.settings.loaded:
            return DEFAULT_SHUTDOWN_TIMEOUT
        return float(
            self.settings.get_nowait(
                f"{ROOT_SETTINGS}.shutdown_timeout_seconds", DEFAULT_SHUTDOWN_TIMEOUT, expect=(int, float)
            )
        )

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
        elif self.state in ("starting", "running"):
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
        installed = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
                installed.append(signum)
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
            await self.logging.stop()
            return self.exit_code
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)
            self._stop_requested = None

    async def _shutdown_with_grace(self) -> None:
        grace = self.shutdown_timeout()
        stopping = asyncio.get_running_loop().create_task(self._stop_all(), name=f"tamarco:stop:{self.name}")
        done, _ = await asyncio.wait({stopping}, timeout=grace)
        if not done:
            self._force_exit(
                f"shutdown took longer than {grace:g} s, stuck in {self.current_stage or 'an unknown stage'}"
            )
        elif stopping.exception() is not None:
            error = stopping.exception()
            self.logger.error("error while stopping: %s", error, exc_info=error)
            self.exit_code = self.exit_code or EXIT_FAILURE

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1 and self.state == "stopping":
            self._force_exit(f"second {name} during shutdown (stuck in {self.current_stage or 'an unknown stage'})")
        self.logger.info("received %s, stopping gracefully", name)
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _force_exit(self, reason: str) -> None:
        self.logger.critical("forcing exit with code %d: %s", EXIT_FORCED, reason)
        for handler in self.logging.handlers:
            try:
                handler.flush()
            except Exception:  # the process is going away: nothing left to report to
                continue
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_FORCED)


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
        await self.logging.stop()

    async def stop_gracefully(self, exit_code: int = EXIT_OK, reason: str | None = None) -> None:
        if exit_code and not self.exit_code:
            self.exit_code = exit_code
        if self.state in ("starting", "running"):
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

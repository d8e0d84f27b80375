"""The status resource: ``/status``, ``/health/live`` and ``/health/ready`` on the report
server, and the restart policies."""

from __future__ import annotations

import json
import time
from typing import Any, ClassVar

from tamarco.core.default_resources import default_resource_factories
from tamarco.core.lifecycle import HookHandle
from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, find_report_server
from tamarco.core.settings.settings import SettingsView
from tamarco.core.versions import installed_distributions
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status._config import _KNOWN_KEYS, StatusConfig, load_status_config
from tamarco.resources.basic.status._errors import StatusSettingsError
from tamarco.resources.basic.status._loop_lag import LoopLagMonitor
from tamarco.resources.basic.status._redaction import Redactor
from tamarco.resources.basic.status._report import collect_resource_statuses, overall_http_code
from tamarco.resources.basic.status._restart import RestartPolicies

__all__ = ["StatusResource"]

#: Microservice states in which the probes answer 503: load balancers drain first.
_SHUTTING_DOWN = ("stopping", "stopped")
#: 0.1 settings of the status resource that the report server took over.
_MOVED_SETTINGS = ("host", "port", "debug")


#: One encoder for every response (``json.dumps(data, default=str)`` builds one per call).
_dumps = json.JSONEncoder(default=str).encode


class StatusResource(BaseResource):
    """Reports the state of the service and its resources, and applies the restart policies.

    Endpoints (on the service's report server: the resource implementing
    :class:`tamarco.core.report_server.ReportServer`, tamarco-http's by default; without one they
    are not served, said once in the log, and the restart policies still apply):

    * ``GET /status``: every resource's ``status()``, every task and thread (``tasks``), the
      settings source (``settings_source``: ``ok``, ``degraded`` while etcd is lost, ``none``)
      ``problems`` (failed tasks, FAILED resources, a degraded settings source) and ``versions``
      (every installed tamarco distribution, as ``tamarco version`` prints them); 200 when
      all resources are STARTED, 500 when any is FAILED or STOPPED,
      ``http_code_while_starting`` (102) otherwise;
    * ``GET /health/live``: 200 unless the event loop lagged beyond the threshold recently, or
      the service is shutting down (503);
    * ``GET /health/ready``: 200 when the service is running, every critical resource is
      STARTED and none of the ``health.not_ready_when`` conditions holds (``task_failed`` by
      default; ``resource_failed``, ``settings_degraded``, ``handler_stuck``), 503 otherwise (and from the first
      moment of a shutdown).

    Settings live under ``system.resources.status`` (see ``docs/status.md``).
    """

    depends_on: ClassVar[tuple[str | type, ...]] = (ReportServer,)
    loggers_names: ClassVar[tuple[str, ...]] = ("tamarco.status",)
    live_settings: ClassVar[tuple[str, ...]] = (
        "restart_policy",
        "critical_resources",
        "http_code_while_starting",
        "status_timeout_seconds",
        "health",
    )
    #: The top-level keys :func:`load_status_config` accepts (its ``_KNOWN_KEYS``).
    settings_keys: ClassVar[tuple[str, ...]] = _KNOWN_KEYS[None]

    #: Endpoint paths.
    status_path: ClassVar[str] = "/status"
    live_path: ClassVar[str] = "/health/live"
    ready_path: ClassVar[str] = "/health/ready"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = StatusConfig()
        self.loop_lag = LoopLagMonitor()
        self._redactor = Redactor()
        self._redactor_source: object = None
        self.policies: RestartPolicies | None = None
        self._routes_added = False
        self._hook_handles: list[HookHandle[Any]] = []
        self._no_report_server_logged = False

    # -- settings -----------------------------------------------------------------------------

    async def check_settings(self) -> None:
        """Read and check the settings (every invalid one fails the start, naming its key, with
        the other resources' wrong settings); a policy naming a resource the service lacks is a warning."""
        self.config = self._load_config()
        self._log_config_warnings()

    async def configure_settings(self, settings: SettingsView) -> None:
        await super().configure_settings(settings)
        for moved in _MOVED_SETTINGS:
            if settings.get_nowait(moved, None) is not None:
                self.logger.warning(
                    "setting %s is ignored: the endpoints are served by the report server, "
                    "configure system.resources.%s.%s instead",
                    settings.full_key(moved),
                    self._report_server_name() or "<report server>",
                    moved,
                )
        microservice = self._microservice()
        self.policies = RestartPolicies(
            microservice, lambda: self.config.restart_policy, self.logger, lambda text: self.redactor.text(text)
        )
        self._unhook()
        hooks = microservice.hooks
        self._hook_handles = [
            hooks.on_resource_status(self._on_status_change),
            hooks.on_start_failure(self._on_start_failure),
            hooks.on_stopping(self._on_stopping),
        ]

    def _unhook(self) -> None:
        """Remove this resource's lifecycle hooks (they are added again at each start)."""
        handles, self._hook_handles = self._hook_handles, []
        for handle in handles:
            handle.remove()

    def _log_config_warnings(self) -> None:
        for warning in self.config.warnings:
            self.logger.warning("%s", warning)

    @property
    def redactor(self) -> Redactor:
        """Masks secrets: the service's redactor (the one its logs use, following its settings)."""
        shared = getattr(self.microservice, "redactor", None)
        if isinstance(shared, Redactor):
            return shared
        if self.settings is not None:
            tree = self.settings.settings.effective  # the same object until the settings change
            if tree is not self._redactor_source:
                self._redactor = Redactor.from_settings(tree)
                self._redactor_source = tree
        return self._redactor

    def _load_config(self) -> StatusConfig:
        settings = self._settings()
        microservice = self._microservice()
        return load_status_config(
            settings.get_nowait(None, {}),
            prefix=settings.prefix,
            resources=list(microservice.resources),
            service=microservice.name,
            own_name=str(self.name),
            non_critical_by_default=set(default_resource_factories())
            | {name for name, resource in microservice.resources.items() if isinstance(resource, ReportServer)}
            | {str(self.name)},
        )

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """Re-read the settings after a live change; an invalid value keeps the previous ones."""
        try:
            self.config = self._load_config()
        except StatusSettingsError as error:
            self.logger.error("status settings not applied, keeping the previous ones: %s", error)
            return
        self._log_config_warnings()
        self.loop_lag.interval = self.config.health.loop_lag_interval_seconds
        self.loop_lag.window = self.config.health.loop_lag_window_seconds

    # -- lifecycle ----------------------------------------------------------------------------

    async def pre_start(self) -> None:
        """Add the endpoints to the report server (it serves them once it starts)."""
        if self._routes_added:
            return
        server = find_report_server(self._microservice())
        if server is None:
            if not self._no_report_server_logged:
                self._no_report_server_logged = True
                self.logger.warning(
                    "status: service %s has no report server (no resource implementing "
                    "tamarco.core.report_server.ReportServer): %s, %s and %s are not served; "
                    "the restart policies still apply",
                    self._microservice().name,
                    self.status_path,
                    self.live_path,
                    self.ready_path,
                )
            return
        server.add_route("GET", self.status_path, self.handle_status)
        server.add_route("GET", self.live_path, self.handle_live)
        server.add_route("GET", self.ready_path, self.handle_ready)
        self._routes_added = True

    async def start(self) -> None:
        self.loop_lag.interval = self.config.health.loop_lag_interval_seconds
        self.loop_lag.window = self.config.health.loop_lag_window_seconds
        self.loop_lag.start()
        await super().start()

    async def stop(self) -> None:
        # The restart policies end in the service's stopping hook, not here: this resource
        # stops too when a restart policy restarts the report server it depends on.
        await self.loop_lag.stop()
        await super().stop()

    async def post_stop(self) -> None:
        self._unhook()
        self._routes_added = False

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["loop_lag_seconds"] = round(self.loop_lag.last_lag(), 6)
        if self.policies is not None:
            restarting = sorted(n for n in self._microservice().resources if self.policies.restarting(n))
            if restarting:
                info["restarting"] = restarting
        return info

    # -- restart policies ---------------------------------------------------------------------

    def _on_status_change(self, resource: BaseResource, old: StatusCodes, new: StatusCodes) -> None:
        if self.policies is not None:
            self.policies.on_status_change(resource, old, new)

    async def _on_stopping(self) -> None:
        if self.policies is not None:
            await self.policies.stop()

    async def _on_start_failure(self, resource: BaseResource, error: BaseException) -> bool:
        if self.policies is None:
            return False
        return await self.policies.on_start_failure(resource, error)

    # -- endpoints ----------------------------------------------------------------------------

    async def status_report(self) -> tuple[int, dict[str, Any]]:
        """The ``/status`` HTTP code and body (secrets masked)."""
        microservice = self._microservice()
        resources = await collect_resource_statuses(microservice.resources, self.config.status_timeout_seconds)
        for name, info in resources.items():
            if self.policies is not None and self.policies.attempts(name):
                info.setdefault("restart_attempts", self.policies.attempts(name))
        code = overall_http_code((info["status"] for info in resources.values()), self.config.http_code_while_starting)
        body = {
            "microservice": microservice.name,
            "instance_id": microservice.instance_id,
            "deploy_name": microservice.deploy_name,
            "state": microservice.state,
            "loop_lag_seconds": round(self.loop_lag.last_lag(), 6),
            "resources": resources,
            "tasks": self._tasks_report(),
            "settings_source": self._settings_source(),
            "tracing": self._tracing_report(),
            "problems": [text for texts in self.findings().values() for text in texts],
            "versions": installed_distributions(),
        }
        return code, self.redactor.data(body)

    def _tasks_report(self) -> dict[str, Any]:
        tasks = getattr(self._microservice(), "tasks", None)
        report = getattr(tasks, "report", None)
        return report() if callable(report) else {}

    def _tracing_report(self) -> dict[str, Any]:
        """On or off, and the exporter's health (spans exported, dropped, last error)."""
        report = getattr(getattr(self._microservice(), "tracing", None), "report", None)
        return report() if callable(report) else {"enabled": False}

    def _settings_source(self) -> dict[str, Any]:
        settings = getattr(self._microservice(), "settings", None)
        source_status = getattr(settings, "source_status", None)
        return source_status() if callable(source_status) else {"source": None, "state": "none"}

    def findings(self) -> dict[str, list[str]]:
        """The conditions of :data:`READINESS_CONDITIONS` that hold now, each with what it is
        about (texts, not yet masked)."""
        microservice = self._microservice()
        found: dict[str, list[str]] = {}
        failed_tasks = [
            f"{info['kind']} {name} failed: {info.get('error', 'unknown error')}"
            for name, info in self._tasks_report().items()
            if info.get("state") == "failed"
        ]
        if failed_tasks:
            found["task_failed"] = failed_tasks
        failed_resources = [
            f"resource {name} is FAILED" + (f": {resource.last_error}" if resource.last_error else "")
            for name, resource in microservice.resources.items()
            if resource.status_code is StatusCodes.FAILED
            and not (self.policies is not None and self.policies.restarting(name))
        ]
        if failed_resources:
            found["resource_failed"] = failed_resources
        # Messaging resources (core) tell which of their handlers run past their deadline.
        stuck = [
            text
            for resource in microservice.resources.values()
            if callable(reporter := getattr(resource, "stuck_handlers", None))
            for text in reporter()
        ]
        if stuck:
            found["handler_stuck"] = stuck
        source = self._settings_source()
        if source.get("state") == "degraded":
            since = source.get("degraded_since")
            for_how_long = f" for {max(0.0, time.time() - since):.1f} s" if isinstance(since, (int, float)) else ""
            found["settings_degraded"] = [
                f"settings source {source.get('source')} unreachable{for_how_long} "
                f"({source.get('reason') or 'connection lost'}): serving the cached settings"
            ]
        return found

    async def handle_status(self, request: ReportRequest) -> ReportResponse:
        code, body = await self.status_report()
        headers = {}
        pending = [
            f"{name}={info['status_name']}"
            for name, info in body["resources"].items()
            if info["status"] != StatusCodes.STARTED
        ]
        if pending:
            # A 1xx response carries no body: the header tells who is not STARTED yet.
            headers["X-Tamarco-Not-Started"] = ",".join(pending)
        return ReportResponse.json(body, status=code, headers=headers, dumps=_dumps)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the service is alive, and why not."""
        microservice = self._microservice()
        threshold = self.config.health.loop_lag_threshold_seconds
        worst = self.loop_lag.worst_lag()
        body: dict[str, Any] = {
            "state": microservice.state,
            "loop_lag_seconds": round(worst, 6),
            "loop_lag_threshold_seconds": threshold,
        }
        problems = []
        if microservice.state in _SHUTTING_DOWN:
            problems.append(f"service is {microservice.state}")
        if worst > threshold:
            problems.append(f"event loop lagged {worst:.3f} s (threshold {threshold:g} s)")
        body["live"] = not problems
        if problems:
            body["reasons"] = problems
        return not problems, body

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the service should receive traffic: running and critical resources STARTED."""
        microservice = self._microservice()
        not_ready = {
            name: microservice.resources[name].status_code.name
            for name in sorted(self.config.critical_resources)
            if name in microservice.resources and microservice.resources[name].status_code != StatusCodes.STARTED
        }
        reasons = [
            text
            for condition, texts in self.findings().items()
            if condition in self.config.health.not_ready_when
            for text in texts
        ]
        ready = microservice.state == "running" and not not_ready and not reasons
        body: dict[str, Any] = {"ready": ready, "state": microservice.state}
        if not_ready:
            body["not_ready"] = not_ready
        if reasons:
            body["reasons"] = reasons
        return ready, self.redactor.data(body)

    async def handle_live(self, request: ReportRequest) -> ReportResponse:
        alive, body = self.liveness()
        return ReportResponse.json(body, status=200 if alive else 503, dumps=_dumps)

    async def handle_ready(self, request: ReportRequest) -> ReportResponse:
        ready, body = self.readiness()
        return ReportResponse.json(body, status=200 if ready else 503, dumps=_dumps)

    # -- helpers ------------------------------------------------------------------------------

    def _report_server_name(self) -> str | None:
        server = find_report_server(self.microservice)
        return getattr(server, "name", None)

    def _microservice(self) -> Any:
        if self.microservice is None:
            raise RuntimeError(f"resource {self.name or type(self).__name__} is not bound to a microservice")
        return self.microservice

    def _settings(self) -> SettingsView:
        if self.settings is None:
            raise RuntimeError(f"resource {self.name} has no settings yet")
        return self.settings

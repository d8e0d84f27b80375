"""The metrics resource: every Microservice's default resource ``metrics``.

It gives the service its own meter scope (see ``_scope``), serves ``GET /metrics`` on the
report server (rendered by prometheus-client from a private registry at each scrape) and runs
one task per enabled periodic handler (carbon, file, stdout) sending the Graphite lines every
``collect_frequency`` seconds, plus one last time when the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, ClassVar

from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, find_report_server
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.metrics._errors import MetricsError
from tamarco.resources.basic.metrics._graphite import DEFAULT_PREFIX, graphite_lines, graphite_prefix
from tamarco.resources.basic.metrics._handlers import CarbonHandler, FileHandler, LinesHandler, StdoutHandler
from tamarco.resources.basic.metrics._naming import prometheus_prefix
from tamarco.resources.basic.metrics._scope import GLOBAL_SCOPE, MeterScope, activate, deactivate
from tamarco.resources.basic.metrics._settings import KNOWN_KEYS, HandlerSettings, MetricsSettings, read_settings
from tamarco.resources.basic.metrics._summary import Summary

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from tamarco.core.microservice import Microservice
    from tamarco.resources.basic.metrics._prometheus import TamarcoCollector

__all__ = ["MetricsResource"]

METRICS_PATH = "/metrics"
#: A ``/metrics`` render that took less than this last time runs on the event loop: handing
#: a small one (a few dozen series, ~0.1 ms) to a thread costs more than it does, and halved
#: the endpoint's throughput (benchmarks/report_server_overhead.py).
INLINE_RENDER_SECONDS = 0.002


class MetricsResource(BaseResource):
    """Exports the service's meters: Prometheus ``/metrics``, carbon, a file, stdout.

    ``/metrics`` is served by the service's report server (the resource implementing
    :class:`tamarco.core.report_server.ReportServer`, tamarco-http's by default).
    ``MetricsResource(prometheus=False)`` does not need one (for a service that removes it and
    only pushes to carbon or a file). ``registry`` is the service's private
    prometheus-client ``CollectorRegistry``: register more collectors there to export them too.
    """

    depends_on: ClassVar[tuple[str | type, ...]] = (ReportServer,)  # type: ignore[misc]
    loggers_names: ClassVar[tuple[str, ...]] = ("tamarco.metrics",)  # type: ignore[misc]
    #: Applied without a restart: the periodic handlers are rebuilt with the new settings.
    live_settings: ClassVar[tuple[str, ...]] = (  # type: ignore[misc]
        "collect_frequency",
        "handlers",
        "summary_window_seconds",
        "summary_age_buckets",
    )
    #: The top-level keys :func:`read_settings` accepts (its ``KNOWN_KEYS``).
    settings_keys: ClassVar[tuple[str, ...]] = KNOWN_KEYS[None]

    def __init__(self, *args: Any, prometheus: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not prometheus:
            self.depends_on = ()  # type: ignore[misc]
        self.expose_prometheus = prometheus
        self.scope: MeterScope | None = None
        self._collector: TamarcoCollector | None = None
        self._registry: CollectorRegistry | None = None
        self.config: MetricsSettings | None = None
        self.metrics_url: str | None = None
        self.handlers: list[tuple[HandlerSettings, LinesHandler]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._report_server: ReportServer | None = None
        #: CPU seconds the last ``/metrics`` render took: a cheap one runs on the event loop.
        self._last_render_seconds = 0.0

    # -- lifecycle -----------------------------------------------------------------------

    async def bind(self, microservice: Microservice, name: str) -> None:
        """Create the service's scope and make it current for the rest of the service's start
        (its hooks, tasks and server handlers inherit it)."""
        await super().bind(microservice, name)
        self.logger = logging.getLogger("tamarco.metrics")
        if self.scope is None:
            self.scope = MeterScope(str(microservice.name))
        activate(self.scope)

    @property
    def collector(self) -> TamarcoCollector | None:
        """The collector of the service's meters in :attr:`registry` (None before ``bind``)."""
        if self._collector is None:
            self._build_registry()
        return self._collector

    @property
    def registry(self) -> CollectorRegistry | None:
        """The service's private prometheus-client registry (None before ``bind``)."""
        if self._registry is None:
            self._build_registry()
        return self._registry

    def _build_registry(self) -> None:
        # At the first use (a scrape, a collector registered), not at start: prometheus-client
        # is then imported by a service that scrapes, not by every service's start.
        if self.scope is None or self.microservice is None:
            return
        from tamarco.resources.basic.metrics._prometheus import TamarcoCollector, new_registry

        name = str(self.microservice.name)
        self._collector = TamarcoCollector(self.scopes, prometheus_prefix(name), self.microservice.deploy_name)
        self._registry = new_registry(self._collector)

    def scopes(self) -> list[MeterScope]:
        """What this service exports: its own meters first, then the process-wide ones."""
        return [self.scope, GLOBAL_SCOPE] if self.scope is not None else [GLOBAL_SCOPE]

    async def check_settings(self) -> None:
        """Every wrong setting, with the other resources', before any resource starts."""
        if self.settings is not None:
            read_settings(self.settings)

    async def pre_start(self) -> None:
        if self.settings is None or self.microservice is None or self.scope is None:
            raise MetricsError("MetricsResource is started by a Microservice (declare it as a class attribute)")
        config = self.config = read_settings(self.settings)
        if self._collector is not None:
            self._collector.deploy_name = self.microservice.deploy_name
        self._configure_summaries(config)
        if config.prometheus and self.expose_prometheus:
            server = find_report_server(self.microservice)
            if server is None:
                raise MetricsError(
                    f"resource {self.name!r} serves {METRICS_PATH} on the service's report server (a resource "
                    "implementing tamarco.core.report_server.ReportServer, tamarco-http's "
                    "ReportServerResource by default), which this service does not have: keep the report "
                    f"server, set {self.settings.full_key('handlers.prometheus.enabled')} to false and declare "
                    "MetricsResource(prometheus=False), or remove metrics too"
                )
            server.add_route("GET", METRICS_PATH, self._handle_metrics)
            self._report_server = server
        elif config.prometheus:
            self.logger.info("metrics: Prometheus endpoint not served (MetricsResource(prometheus=False))")
        if self.handlers:  # started again without a post_stop (a restart in place): close the old ones
            await self._stop_handlers(last_report=False)
        self.handlers = [(handler_settings, _build_handler(handler_settings)) for handler_settings in config.handlers]

    def _configure_summaries(self, config: MetricsSettings) -> None:
        for scope in self.scopes():
            scope.summary_window_seconds = config.summary_window_seconds
            scope.summary_age_buckets = config.summary_age_buckets
            for meter in scope.meters():
                if (
                    isinstance(meter, Summary)
                    and not meter.has_explicit_window
                    and (meter.window_seconds, meter.age_buckets)
                    != (config.summary_window_seconds, config.summary_age_buckets)
                ):
                    meter.configure_window(config.summary_window_seconds, config.summary_age_buckets)

    async def start(self) -> None:
        self._start_handlers()
        await super().start()

    def _start_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for handler_settings, handler in self.handlers:
            self._tasks.append(
                loop.create_task(self._report_loop(handler_settings, handler), name=f"tamarco:metrics:{handler.kind}")
            )
            self.logger.info("metrics: %s handler every %g s", handler.kind, handler_settings.collect_frequency)

    async def _cancel_report_tasks(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _stop_handlers(self, last_report: bool) -> None:
        await self._cancel_report_tasks()
        for handler_settings, handler in self.handlers:
            if last_report:
                try:
                    await asyncio.wait_for(self.report_once(handler_settings, handler), timeout=5.0)
                except Exception as error:
                    self.logger.warning("metrics: last %s report failed: %s", handler.kind, error)
            with contextlib.suppress(Exception):
                await handler.close()

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        """Apply changed settings live: re-read them all, rebuild the periodic handlers.

        Invalid new values raise (the service logs it) and the running handlers are kept.
        ``handlers.prometheus.enabled`` needs a restart (routes are fixed once the report
        server started).
        """
        if self.settings is None or self.config is None:
            return
        config = read_settings(self.settings)
        if config.prometheus != self.config.prometheus:
            self.logger.warning(
                "metrics: %s changed; restart the service to apply it",
                self.settings.full_key("handlers.prometheus.enabled"),
            )
        self._configure_summaries(config)
        previous, self.config = self.config, config
        if config.handlers == previous.handlers and config.collect_frequency == previous.collect_frequency:
            return  # the handlers (and a carbon connection with its pending lines) stay as they are
        handlers = [(handler_settings, _build_handler(handler_settings)) for handler_settings in config.handlers]
        await self._stop_handlers(last_report=False)
        self.handlers = handlers
        if self._status == StatusCodes.STARTED:
            self._start_handlers()

    async def post_start(self) -> None:
        if self._report_server is not None and self._report_server.url:
            self.metrics_url = f"{self._report_server.url}{METRICS_PATH}"
            self.logger.info("metrics: Prometheus endpoint %s", self.metrics_url)

    async def stop(self) -> None:
        """Stop the periodic reports. The last report comes in :meth:`post_stop`."""
        await self._cancel_report_tasks()
        await super().stop()

    async def post_stop(self) -> None:
        """One last report, once every resource of the service stopped — what they counted
        while stopping (messages handled during a drain, the last requests) is in it."""
        await self._stop_handlers(last_report=True)
        if self.scope is not None:
            deactivate(self.scope)
        await super().post_stop()

    async def status(self) -> dict[str, Any]:
        info = await super().status()
        info["prometheus"] = self.metrics_url
        info["handlers"] = [handler.describe() for _, handler in self.handlers]
        info["meters"] = sum(len(scope.meters()) for scope in self.scopes())
        return info

    # -- exporting -----------------------------------------------------------------------

    def render_prometheus(self, accept: str | None = None) -> tuple[bytes, str]:
        """``(body, content type)`` of ``/metrics`` now (the format ``accept`` prefers)."""
        registry = self.registry
        if registry is None:
            raise MetricsError("MetricsResource is not bound to a service yet")
        from tamarco.resources.basic.metrics._prometheus import render

        return render(registry, accept)

    def collect_lines(self, prefix: str = DEFAULT_PREFIX, timestamp: int | None = None) -> list[str]:
        """The Graphite lines (``<path> <value> <timestamp>``) of every exported meter now."""
        if self.microservice is None:
            raise MetricsError("MetricsResource is not bound to a service yet")
        filled = graphite_prefix(prefix, str(self.microservice.name), self.microservice.deploy_name)
        return graphite_lines(self.scopes(), filled, int(time.time()) if timestamp is None else timestamp)

    async def report_once(self, handler_settings: HandlerSettings, handler: LinesHandler) -> None:
        """Collect now and hand the lines to ``handler``."""
        lines = await asyncio.to_thread(self.collect_lines, handler_settings.prefix)
        await handler.emit(lines)

    async def _report_loop(self, handler_settings: HandlerSettings, handler: LinesHandler) -> None:
        loop = asyncio.get_running_loop()
        period = handler_settings.collect_frequency
        next_at = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += period
            if next_at < loop.time():  # a report took longer than the period: skip, don't pile up
                next_at = loop.time() + period
            try:
                await self.report_once(handler_settings, handler)
            except Exception:
                self.logger.exception("metrics: %s report failed", handler.kind)

    async def _handle_metrics(self, request: ReportRequest) -> ReportResponse:
        accept = request.header("Accept")
        try:
            if self._last_render_seconds < INLINE_RENDER_SECONDS:
                body, content_type = self._timed_render(accept)
            else:  # a large registry (10k series: ~50 ms) must not stall the event loop
                body, content_type = await asyncio.to_thread(self._timed_render, accept)
        except Exception:
            self.logger.exception("metrics: rendering %s failed", METRICS_PATH)
            return ReportResponse.text("metrics rendering failed; see the service's log\n", status=500)
        if "gzip" in (request.header("Accept-Encoding") or ""):  # as Prometheus asks; large bodies shrink ~10x
            import gzip

            return ReportResponse(
                gzip.compress(body, 6), content_type=content_type, headers={"Content-Encoding": "gzip"}
            )
        return ReportResponse(body, content_type=content_type)

    def _timed_render(self, accept: str | None) -> tuple[bytes, str]:
        # CPU time of this thread, not wall time: in a worker thread the wall time includes
        # waiting for the GIL (the loop is busy serving), which would keep a small registry
        # in the thread for good under load.
        started = time.thread_time()
        try:
            return self.render_prometheus(accept)
        finally:
            self._last_render_seconds = time.thread_time() - started


def _build_handler(settings: HandlerSettings) -> LinesHandler:
    if settings.kind == "carbon":
        return CarbonHandler(str(settings.host), int(settings.port or 0), settings.timeout, settings.max_pending_lines)
    if settings.kind == "file":
        return FileHandler(str(settings.path))
    return StdoutHandler()

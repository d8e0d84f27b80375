"""The metrics resource inside running services: /metrics, scopes, handlers, settings."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tamarco.core.errors import ResourceStartError
from tamarco.core.microservice import MicroserviceContext, task
from tamarco.resources.basic.metrics import Counter, MetricsError, MetricsResource, MetricsSettingsError, Summary

pytestmark = pytest.mark.functional

Builder = Callable[..., MicroserviceContext]


async def fetch_metrics(session: aiohttp.ClientSession, service: MicroserviceContext) -> tuple[int, str, str]:
    url = service.resources["tamarco_http_report_server"].url + "/metrics"  # type: ignore[attr-defined]
    async with session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_metrics_endpoint_serves_module_level_and_service_meters(
    http_session: aiohttp.ClientSession, module_meter_name: str, build: Builder
) -> None:
    module_level = Counter(module_meter_name, "things")  # before any service: process-wide
    service = build("billing-api")
    await service.start()
    try:
        Counter("cats", "animals").inc(3)  # created while the service runs: the service's own
        module_level.inc(2)
        summary = Summary("http_response_time", "time")
        for value in range(100):
            summary.observe(value)
        status, content_type, text = await fetch_metrics(http_session, service)
        metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
        assert metrics.metrics_url == service.resources["tamarco_http_report_server"].url + "/metrics"  # type: ignore[attr-defined]
    finally:
        await service.stop()
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    # the service name is a prefix (dash made valid), deploy_name a label
    assert 'billing_api_cats_total{deploy_name="functional"} 3.0\n' in text
    assert f'billing_api_{module_meter_name}_total{{deploy_name="functional"}} 2.0\n' in text
    assert 'billing_api_http_response_time{deploy_name="functional",quantile="0.5"} 49.0\n' in text
    assert 'billing_api_http_response_time_sum{deploy_name="functional"} 4950.0\n' in text


async def test_two_services_in_one_process_do_not_share_their_meters(
    http_session: aiohttp.ClientSession, module_meter_name: str, settings_tree: Callable[..., dict[str, Any]]
) -> None:
    shared = Counter(module_meter_name, "things")
    done = {"one": asyncio.Event(), "two": asyncio.Event()}

    class Worker(MicroserviceContext):
        use_default_resources = True
        amount = 0

        @task
        async def work(self) -> None:
            Counter("handled", "requests").inc(self.amount)  # created inside the service
            shared.inc()
            done[str(self.name)].set()

    one = type("One", (Worker,), {"name": "one", "amount": 1})()
    two = type("Two", (Worker,), {"name": "two", "amount": 2})()
    for service in (one, two):
        service.settings.update_internal(settings_tree(deploy_name=None))
    # each service starts in its own task (its own context), as run() does
    await asyncio.gather(asyncio.create_task(one.start()), asyncio.create_task(two.start()))
    try:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in done.values())), 10)
        _, _, text_one = await fetch_metrics(http_session, one)
        _, _, text_two = await fetch_metrics(http_session, two)
    finally:
        await asyncio.gather(one.stop(), two.stop())
    assert "one_handled_total 1.0\n" in text_one
    assert "two_handled_total 2.0\n" in text_two
    assert "handled_total 2.0" not in text_one and "handled_total 1.0" not in text_two
    # the module-level meter is shared: both services export it, with both increments
    assert f"one_{module_meter_name}_total 2.0\n" in text_one
    assert f"two_{module_meter_name}_total 2.0\n" in text_two


async def test_openmetrics_is_served_when_asked(http_session: aiohttp.ClientSession, build: Builder) -> None:
    service = build("openmetrics_service")
    await service.start()
    try:
        Counter("cats", "animals").inc()
        url = service.resources["tamarco_http_report_server"].url + "/metrics"  # type: ignore[attr-defined]
        async with http_session.get(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"}) as response:
            content_type, text = response.headers["Content-Type"], await response.text()
    finally:
        await service.stop()
    assert content_type.startswith("application/openmetrics-text")
    assert 'openmetrics_service_cats_total{deploy_name="functional"} 1.0' in text
    assert text.endswith("# EOF\n")


async def test_metrics_are_gzipped_when_asked(http_session: aiohttp.ClientSession, build: Builder) -> None:
    service = build("gzipped")
    await service.start()
    try:
        Counter("cats", "animals").inc()
        url = service.resources["tamarco_http_report_server"].url + "/metrics"  # type: ignore[attr-defined]
        async with http_session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
            encoding, text = response.headers.get("Content-Encoding"), await response.text()
    finally:
        await service.stop()
    assert encoding == "gzip"
    assert 'gzipped_cats_total{deploy_name="functional"} 1.0' in text


async def test_a_slow_render_moves_to_a_thread_and_a_fast_one_back(
    http_session: aiohttp.ClientSession, build: Builder, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build("render_threads")
    await service.start()
    threads: list[bool] = []
    try:
        metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
        render = metrics.render_prometheus

        def slow_first(accept: str | None = None) -> tuple[bytes, str]:
            threads.append(threading.current_thread() is not threading.main_thread())
            if len(threads) == 1:
                busy_until = time.thread_time() + 0.01  # a render past the inline threshold (CPU time)
                while time.thread_time() < busy_until:
                    pass
                return render(accept)
            # the later renders are cheap whatever earlier tests left in the process-wide scope
            # (meters recorded outside any service, e.g. by core's messaging tests, are exported)
            return b"", "text/plain; version=0.0.4; charset=utf-8"

        monkeypatch.setattr(metrics, "render_prometheus", slow_first)
        for _ in range(3):
            status, _, _ = await fetch_metrics(http_session, service)
            assert status == 200
    finally:
        await service.stop()
    assert threads == [False, True, False]


async def test_prometheus_handler_disabled(http_session: aiohttp.ClientSession, build: Builder) -> None:
    service = build("no_prometheus", {"handlers": {"prometheus": {"enabled": False}}})
    await service.start()
    try:
        status, _, _ = await fetch_metrics(http_session, service)
    finally:
        await service.stop()
    assert status == 404


async def test_removing_the_report_server_needs_metrics_without_prometheus(build: Builder) -> None:
    # the report server is found by its contract (tamarco.core.report_server.ReportServer): the
    # service builds, and metrics with its Prometheus endpoint on refuses to start, saying why
    service = build("no_report_server", use_default_resources=False, metrics=MetricsResource())
    assert service.resource_dependencies["metrics"] == []
    with pytest.raises(ResourceStartError) as caught:
        await service.start()
    await service.stop()
    assert isinstance(caught.value.error, MetricsError)
    message = str(caught.value)
    assert "tamarco.core.report_server.ReportServer" in message
    assert "system.resources.metrics.handlers.prometheus.enabled" in message
    assert "MetricsResource(prometheus=False)" in message


async def test_metrics_without_report_server_writes_a_file(tmp_path: Path, build: Builder) -> None:
    path = tmp_path / "metrics.txt"
    service = build(
        "file_only",
        {
            "handlers": {
                "prometheus": {"enabled": False},
                "file": {"enabled": True, "path": str(path), "collect_frequency": 60, "prefix": "{service_name}"},
            }
        },
        use_default_resources=False,
        metrics=MetricsResource(prometheus=False),
    )
    await service.start()
    Counter("jobs", "jobs").inc(4)
    await service.stop()  # the last report on stop writes the current values
    assert re.search(r"^file_only\.jobs 4 \d+$", path.read_text(), re.MULTILINE)


async def test_file_handler_writes_metric_lines_periodically(tmp_path: Path, build: Builder) -> None:
    path = tmp_path / "tamarco_metrics"
    service = build(
        "file_writer",
        {"collect_frequency": 30, "handlers": {"file": {"enabled": True, "path": str(path), "collect_frequency": 0.1}}},
    )
    await service.start()
    try:
        counter = Counter("written", "lines")
        counter.inc(5)
        prefix = f"functional.file_writer.{_hostname()}"
        pattern = rf"^{re.escape(prefix)}\.written 5 (\d+)$"
        await _wait_for_line(path, pattern)
        timestamp = int(_file_matches(path, pattern).group(1))  # type: ignore[union-attr]
        assert abs(timestamp - time.time()) < 60
        counter.inc()
    finally:
        await service.stop()
    assert re.search(rf"^{re.escape(prefix)}\.written 6 \d+$", path.read_text(), re.MULTILINE)


async def test_stdout_handler(capsys: pytest.CaptureFixture[str], build: Builder) -> None:
    service = build("stdout_writer", {"handlers": {"stdout": {"enabled": True, "prefix": "out.{service_name}"}}})
    await service.start()
    Counter("printed", "lines").inc(2)
    await service.stop()
    assert re.search(r"^out\.stdout_writer\.printed 2 \d+$", capsys.readouterr().out, re.MULTILINE)


async def test_summary_window_setting_applies_to_the_service_summaries(build: Builder) -> None:
    service = build("windowed", {"summary_window_seconds": 5, "summary_age_buckets": 2})
    await service.start()
    try:
        default = Summary("default_window", "seconds")
        explicit = Summary("explicit_window", "seconds", window_seconds=90)
    finally:
        await service.stop()
    assert default.window_seconds == 5
    assert explicit.window_seconds == 90


async def test_status_describes_the_handlers(tmp_path: Path, build: Builder) -> None:
    service = build("described", {"handlers": {"file": {"enabled": True, "path": str(tmp_path / "m")}}})
    await service.start()
    try:
        status = await service.resources["metrics"].status()
    finally:
        await service.stop()
    assert status["status_name"] == "STARTED"
    assert status["prometheus"].endswith("/metrics")
    assert status["handlers"] == [{"kind": "file", "path": str(tmp_path / "m"), "failing": False}]


async def test_bad_settings_stop_the_start_naming_the_key(build: Builder) -> None:
    service = build("misconfigured", {"handlers": {"carbon": {"enabled": True, "port": 2003}}})
    with pytest.raises(ResourceStartError) as caught:
        await service.start()
    await service.stop()
    assert isinstance(caught.value.error, MetricsSettingsError)
    assert "system.resources.metrics.handlers.carbon.host is missing" in str(caught.value)


def _hostname() -> str:
    import socket

    from tamarco.resources.basic.metrics._naming import graphite_component

    return graphite_component(socket.gethostname())


async def test_a_running_microservice_exports_what_its_tasks_and_servers_create(
    http_session: aiohttp.ClientSession, settings_tree: Callable[..., dict[str, Any]]
) -> None:
    from prometheus_client import ProcessCollector
    from tamarco.core.microservice import Microservice

    worked = asyncio.Event()

    class Worker(Microservice):
        name = "worker_service"

        async def pre_start(self) -> None:
            ProcessCollector(registry=self.metrics.registry)  # type: ignore[attr-defined]
            await super().pre_start()

        @task
        async def work(self) -> None:
            Counter("jobs_done", "jobs").inc(3)
            worked.set()

    service = Worker()
    service.settings.update_internal(settings_tree())
    running = asyncio.create_task(service.run_until_stopped())
    try:
        await asyncio.wait_for(worked.wait(), 10)
        status, _, text = await fetch_metrics(http_session, service)  # type: ignore[arg-type]
    finally:
        await service.stop_gracefully()
        exit_code = await asyncio.wait_for(running, 30)
    assert exit_code == 0
    assert status == 200
    assert 'worker_service_jobs_done_total{deploy_name="functional"} 3.0\n' in text
    assert "process_cpu_seconds_total" in text  # a collector registered in the service's registry
    # the meter was created inside the service: nothing leaked into the process-wide scope
    from tamarco.resources.basic.metrics import GLOBAL_SCOPE

    assert "jobs_done" not in GLOBAL_SCOPE.families


async def test_handler_settings_apply_live(tmp_path: Path, build: Builder) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    service = build(
        "live_metrics",
        {"handlers": {"file": {"enabled": True, "path": str(first), "collect_frequency": 0.05, "prefix": "live"}}},
    )
    await service.start()
    try:
        Counter("beats", "beats").inc()
        await _wait_for_line(first, r"^live\.beats 1 \d+$")
        await service.settings.set("system.resources.metrics.handlers.file.path", str(second))
        await _wait_for_line(second, r"^live\.beats 1 \d+$")
        # an invalid change is refused and the running handler keeps going
        await service.settings.set("system.resources.metrics.handlers.file.collect_frequency", -1)
        Counter("beats", "beats").inc()
        await _wait_for_line(second, r"^live\.beats 2 \d+$")
    finally:
        await service.stop()


async def _wait_for_line(path: Path, pattern: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not _file_matches(path, pattern):
        assert time.monotonic() < deadline, f"no line matching {pattern!r} in {path}"
        await asyncio.sleep(0.02)


def _file_matches(path: Path, pattern: str) -> re.Match[str] | None:
    """The first match of ``pattern`` (multiline) in the file, None if absent."""
    return re.search(pattern, path.read_text(), re.MULTILINE) if path.exists() else None


async def test_a_window_change_alone_keeps_the_handlers(tmp_path: Path, build: Builder) -> None:
    service = build("window_change", {"handlers": {"file": {"enabled": True, "path": str(tmp_path / "m")}}})
    await service.start()
    try:
        metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
        summary = Summary("latency", "seconds")
        handlers_before = list(metrics.handlers)
        await service.settings.set("system.resources.metrics.summary_window_seconds", 7)
        assert summary.window_seconds == 7
        assert metrics.handlers == handlers_before
    finally:
        await service.stop()

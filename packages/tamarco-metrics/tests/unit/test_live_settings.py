"""Settings changed while the service runs: an unknown key is logged naming it, the running
handlers and ``/metrics`` keep working, and a valid change applies once the tree is right."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tamarco.core.logging.testing import CapturedLogs, capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.report_server import ReportRequest, ReportResponse, RouteHandler
from tamarco.core.testing import wait_until
from tamarco.resources.bases import BaseResource
from tamarco.resources.basic.metrics import Counter, MetricsResource

PREFIX = "system.resources.metrics"
SERVICE = "live_settings_unit"


class RoutesOnly(BaseResource):
    """A report server without a socket (the contract metrics finds it by): keeps the routes."""

    url: str | None = None
    port: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], RouteHandler] = {}

    def add_route(self, method: str, path: str, handler: RouteHandler) -> None:
        self.routes[(method, path)] = handler

    async def get(self, path: str) -> ReportResponse:
        return await self.routes[("GET", path)](ReportRequest("GET", path))


def service_writing_to(path: Path) -> MicroserviceContext:
    service_class = type(
        "LiveSettingsService",
        (MicroserviceContext,),
        {"name": SERVICE, "report_server": RoutesOnly(), "metrics": MetricsResource()},
    )
    service = service_class(environ={})
    file_handler = {"enabled": True, "path": str(path), "collect_frequency": 0.02, "prefix": "live"}
    service.settings.update_internal({"system": {"resources": {"metrics": {"handlers": {"file": file_handler}}}}})
    return service


async def wait_for_beats(path: Path, count: int) -> None:
    pattern = re.compile(rf"^live\.beats {count} \d+$", re.MULTILINE)
    await wait_until(lambda: path.exists() and pattern.search(path.read_text()), 10, f"beats {count} in {path.name}")


def refusal(logs: CapturedLogs, changed: str) -> str:
    """The error logged for the refused change of ``changed``: its message and the reason."""
    record = logs.find(level="ERROR", contains=f"resource metrics failed to apply setting {PREFIX}.{changed}")
    assert record.exc_info is not None
    return f"{record.message}: {record.exc_info[1]}"


@pytest.mark.parametrize(
    ("changed", "value", "unknown", "known"),
    [
        ("handlers.statsd.enabled", True, "handlers.statsd", "carbon, file, prometheus, stdout"),
        ("handlers.file.pth", "/tmp/elsewhere", "handlers.file.pth", "collect_frequency, enabled, path, prefix"),
    ],
)
async def test_an_unknown_key_added_live_is_logged_and_the_running_handlers_are_kept(
    tmp_path: Path, changed: str, value: Any, unknown: str, known: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    service = service_writing_to(first)
    with capture_logs() as logs:
        async with service:
            metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
            report_server: RoutesOnly = service.resources["report_server"]  # type: ignore[assignment]
            beats = Counter("beats", "beats")
            beats.inc()
            await wait_for_beats(first, 1)
            running = [handler for _, handler in metrics.handlers]

            await service.settings.set(f"{PREFIX}.{changed}", value)
            assert f"setting {PREFIX}.{unknown} is unknown (known: {known})" in refusal(logs, changed)
            # the running handler is the same one, still reporting; /metrics still answers
            assert [handler for _, handler in metrics.handlers] == running
            beats.inc()
            await wait_for_beats(first, 2)
            response = await report_server.get("/metrics")
            assert response.status == 200
            assert f"{SERVICE}_beats_total 2.0\n" in response.body.decode()

            # While the unknown key stays, the tree is wrong as a whole: a valid change is
            # refused too, naming the unknown key, and nothing changes...
            await service.settings.set(f"{PREFIX}.handlers.file.path", str(second))
            assert f"setting {PREFIX}.{unknown} is unknown" in refusal(logs, "handlers.file.path")
            assert [handler for _, handler in metrics.handlers] == running
            # ...and once it is removed, the tree (with the new path) applies.
            await service.settings.delete(f"{PREFIX}.{unknown}")
            assert [handler.describe()["path"] for _, handler in metrics.handlers] == [str(second)]
            beats.inc()
            await wait_for_beats(second, 3)
    assert not first.read_text().count("live.beats 3 ")  # the replaced handler stopped


async def test_an_unknown_top_level_key_changed_live_is_an_error_naming_the_known_keys(tmp_path: Path) -> None:
    # A top-level key metrics does not know (its ``settings_keys``, from the settings'
    # ``KNOWN_KEYS``) is not one a restart would apply: the next start would refuse it. The core
    # says so at once, naming the known keys; the running resource is not touched.
    path = tmp_path / "metrics"
    service = service_writing_to(path)
    with capture_logs() as logs:
        async with service:
            metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
            running = [handler for _, handler in metrics.handlers]
            config = metrics.config
            await service.settings.set(f"{PREFIX}.colect_frequency", 1)
            assert logs.find(level="ERROR", contains=f"{PREFIX}.colect_frequency").message == (
                f"setting {PREFIX}.colect_frequency changed, but colect_frequency is not a setting of resource "
                "metrics (known: collect_frequency, handlers, summary_age_buckets, summary_window_seconds, "
                "tamarco_http_report_server): it is ignored, and the next start will refuse it"
            )
            assert not logs.filter(contains="needs a restart")
            assert metrics.config is config and [handler for _, handler in metrics.handlers] == running

            # A known key that is not live still needs a restart.
            await service.settings.set(f"{PREFIX}.tamarco_http_report_server.port", 9999)
            assert logs.find(level="WARNING", contains="needs a restart").message == (
                f"setting {PREFIX}.tamarco_http_report_server.port changed; "
                "resource metrics needs a restart to apply it"
            )
            assert metrics.config is config

            # The next change of a live setting re-reads the whole tree: refused, naming it...
            await service.settings.set(f"{PREFIX}.collect_frequency", 1)
            assert f"setting {PREFIX}.colect_frequency is unknown" in refusal(logs, "collect_frequency")
            assert [handler for _, handler in metrics.handlers] == running
            assert metrics.config is not None and metrics.config.collect_frequency == 10
            # ...and once the unknown key is removed, a live setting applies.
            await service.settings.delete(f"{PREFIX}.colect_frequency")
            assert logs.find(level="INFO", contains=f"{PREFIX}.colect_frequency removed")
            await service.settings.set(f"{PREFIX}.collect_frequency", 2)
            assert metrics.config is not None and metrics.config.collect_frequency == 2
            assert logs.find(message=f"resource metrics applied setting {PREFIX}.collect_frequency live")

"""The report server (default resource ``tamarco_http_report_server``) over real HTTP."""

from __future__ import annotations

import socket
from typing import ClassVar

import pytest
from tamarco.core.default_resources import default_resource_factories
from tamarco.core.errors import ResourceStartError, UnknownResourceDependency
from tamarco.core.microservice import Microservice, MicroserviceContext
from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, find_report_server
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.io.http.report_server import ReportServerResource
from tamarco.resources.io.http.resource import RoutesFrozenError, ServerBindError

pytestmark = pytest.mark.functional


async def stop_service(ms: Microservice) -> None:
    """The stop sequence, then logging (as ``run()`` does), so no log handler outlives the test."""
    await ms._stop_all()
    await ms._stop_logging()


class PingResource(BaseResource):
    """What metrics and status do: mount an endpoint on the report server in pre_start."""

    depends_on = ("tamarco_http_report_server",)

    async def pre_start(self) -> None:
        report_server = self.microservice.resources["tamarco_http_report_server"]
        report_server.add_route("GET", "/ping", self.ping)

    async def ping(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse.json({"pong": self.name})


class ReportingService(Microservice):
    name = "reporting"
    ping = PingResource()


def service(settings: dict) -> Microservice:
    ms = ReportingService()
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": settings}}})
    return ms


async def test_default_resource_serves_mounted_routes_on_port_0(http_session):
    ms = service({"port": 0})
    report_server = ms.resources["tamarco_http_report_server"]
    assert isinstance(report_server, ReportServerResource)
    assert ms.resources_order.index("tamarco_http_report_server") < ms.resources_order.index("ping")
    await ms._start_all()
    try:
        assert report_server.status_code == StatusCodes.STARTED
        assert report_server.port and report_server.port != 5747
        assert report_server.url == f"http://127.0.0.1:{report_server.port}"
        async with http_session.get(report_server.url + "/ping") as response:
            assert await response.json() == {"pong": "ping"}
        async with http_session.get(report_server.url + "/") as response:
            assert "GET /ping" in (await response.json())["routes"]
        with pytest.raises(RoutesFrozenError, match="GET /late"):
            report_server.add_route("GET", "/late", PingResource().ping)
        assert (await report_server.status())["url"] == report_server.url
    finally:
        await stop_service(ms)
    assert report_server.status_code == StatusCodes.STOPPED


async def test_restart_keeps_the_routes(http_session):
    ms = service({"port": 0})
    report_server = ms.resources["tamarco_http_report_server"]
    for _ in range(2):
        await ms._start_all()
        try:
            async with http_session.get(report_server.url + "/ping") as response:
                assert response.status == 200
        finally:
            await stop_service(ms)


async def test_port_in_use_is_failed_naming_host_and_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ms = service({"host": "127.0.0.1", "port": port})
        with pytest.raises(ResourceStartError) as raised:
            await ms._start_all()
        report_server = ms.resources["tamarco_http_report_server"]
        assert report_server.status_code == StatusCodes.FAILED
        await stop_service(ms)
    assert isinstance(raised.value.error, ServerBindError)
    assert f"127.0.0.1:{port}" in str(raised.value)


async def test_a_service_can_opt_out():
    # the default resources that mount endpoints on it find it by contract (ReportServer), and
    # a service without one still builds: metrics (Prometheus on) would fail its start, so it goes
    dependents = {"metrics": None} if "metrics" in default_resource_factories() else {}
    assert all(
        ReportServer in getattr(entry_point.load()(), "depends_on", ())
        for name, entry_point in default_resource_factories().items()
        if name in ("metrics", "status", "profiler", "memory_analyzer")
    )
    quiet = type("Quiet", (Microservice,), {"name": "quiet", "tamarco_http_report_server": None, **dependents})
    assert "tamarco_http_report_server" not in quiet().resources

    broken = type("Broken", (Microservice,), {"name": "broken", "tamarco_http_report_server": None, **dependents})
    broken.ping = PingResource()
    with pytest.raises(UnknownResourceDependency, match="tamarco_http_report_server"):
        broken()


async def test_context_without_defaults_can_declare_one(http_session):
    class Ctx(MicroserviceContext):
        name = "ctx"
        tamarco_http_report_server = ReportServerResource()
        ping = PingResource()
        settings_: ClassVar[dict] = {}

    ctx = Ctx()
    ctx.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}})
    assert isinstance(ctx.tamarco_http_report_server, ReportServer)  # core's contract
    assert find_report_server(ctx) is ctx.tamarco_http_report_server
    assert ctx.resource_dependencies["ping"] == ["tamarco_http_report_server"]
    async with ctx:
        async with http_session.get(ctx.tamarco_http_report_server.url + "/ping") as response:
            assert response.status == 200


async def test_settings_misplaced_under_metrics_still_work_with_a_warning(http_session, free_port):
    from tamarco.core.logging.testing import capture_logs

    ms = ReportingService()
    ms.settings.update_internal(
        {"system": {"resources": {"metrics": {"tamarco_http_report_server": {"host": "127.0.0.1", "port": free_port}}}}}
    )
    with capture_logs() as logs:
        await ms._start_all()
        try:
            assert ms.resources["tamarco_http_report_server"].port == free_port
        finally:
            await stop_service(ms)
    # Said once per start (the settings check reads the address too, silently).
    assert len(logs.filter(contains="system.resources.metrics.tamarco_http_report_server", level="WARNING")) == 1

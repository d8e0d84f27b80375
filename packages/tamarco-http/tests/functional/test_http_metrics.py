"""Per-route request meters of HTTPServerResource, exported by the real tamarco-metrics."""

from __future__ import annotations

import aiohttp
import pytest
from sanic.response import text
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import Microservice
from tamarco.resources.io.http.resource import HTTPServerResource

pytestmark = pytest.mark.functional


async def stop_service(ms: Microservice) -> None:
    """The stop sequence, then logging (as ``run()`` does), so no log handler outlives the test."""
    await ms._stop_all()
    await ms._stop_logging()


metrics = pytest.importorskip("tamarco.resources.basic.metrics")


class MeteredService(Microservice):
    name = "metered"
    api = HTTPServerResource()


@MeteredService.api.app.route("/items/<item_id:int>")
async def item(request, item_id: int):
    if item_id == 0:
        raise ValueError("no item 0")
    return text(f"item {item_id}")


async def test_requests_are_counted_per_route_and_status(http_session):
    ms = MeteredService()
    ms.settings.update_internal(
        {"system": {"resources": {"api": {"port": 0}, "tamarco_http_report_server": {"port": 0}}}}
    )
    await ms._start_all()
    try:
        for path in ("/items/1", "/items/2", "/items/0", "/nowhere"):
            async with http_session.get(ms.api.url + path):
                pass
        report_server = ms.resources["tamarco_http_report_server"]
        async with http_session.get(report_server.url + "/metrics") as response:
            exposed = await response.text()
    finally:
        await stop_service(ms)
    route = 'route="/items/<item_id:int>",server="api"'
    assert f'metered_http_requests_total{{method="GET",{route},status_code="200"}} 2.0' in exposed
    assert f'metered_http_requests_total{{method="GET",{route},status_code="500"}} 1.0' in exposed
    assert 'metered_http_requests_total{method="GET",route="unmatched",server="api",status_code="404"} 1.0' in exposed
    assert f'metered_http_request_duration_seconds_count{{method="GET",{route}}} 3.0' in exposed


async def test_metrics_setting_false_turns_the_meters_off(http_session):
    class Unmetered(Microservice):
        name = "unmetered"
        api = HTTPServerResource()

    Unmetered.api.add_endpoint("/", lambda request: _ok())
    ms = Unmetered()
    ms.settings.update_internal(
        {"system": {"resources": {"api": {"port": 0, "metrics": False}, "tamarco_http_report_server": {"port": 0}}}}
    )
    await ms._start_all()
    try:
        assert ms.api.meters is None
        async with http_session.get(ms.api.url + "/"):
            pass
        async with http_session.get(ms.resources["tamarco_http_report_server"].url + "/metrics") as response:
            assert "unmetered_http_requests" not in await response.text()
    finally:
        await stop_service(ms)


async def _ok():
    return text("ok")


async def test_meters_write_no_access_log_unless_asked():
    """The meters need Sanic's access-log hook; the log lines still follow ``access_log``."""
    ms = MeteredService()
    ms.settings.update_internal(
        {"system": {"resources": {"api": {"port": 0}, "tamarco_http_report_server": {"port": 0}}}}
    )
    # one connection per request: the access-log switch applies to new connections
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    try:
        with capture_logs() as logs:
            await ms._start_all()
            try:
                for path in ("/items/1", "/nowhere"):
                    async with session.get(ms.api.url + path):
                        pass
                assert not logs.filter(logger="sanic.access")  # neither requests nor disconnections
                await ms.settings.set("system.resources.api.access_log", True)
                async with session.get(ms.api.url + "/items/3"):
                    pass
                await logs.wait_for(logger="sanic.access", contains="GET /items/3")
                async with session.get(ms.resources["tamarco_http_report_server"].url + "/metrics") as response:
                    exposed = await response.text()
            finally:
                await stop_service(ms)
    finally:
        await session.close()
    route = 'route="/items/<item_id:int>",server="api"'
    assert f'metered_http_requests_total{{method="GET",{route},status_code="200"}} 2.0' in exposed
    assert f'metered_http_request_duration_seconds_count{{method="GET",{route}}} 2.0' in exposed

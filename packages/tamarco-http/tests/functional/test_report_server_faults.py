"""The report server under faults: slow clients are cut off, and it closes after the other resources."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sanic.response import text
from tamarco.core.errors import ResourceStartError
from tamarco.core.microservice import Microservice
from tamarco.core.report_server import ReportRequest, ReportResponse
from tamarco.resources.bases import BaseResource
from tamarco.resources.io.http import HTTPSettingsError
from tamarco.resources.io.http.resource import HTTPServerResource

pytestmark = pytest.mark.functional


async def stop_service(ms: Microservice) -> None:
    """The stop sequence, then logging (as ``run()`` does), so no log handler outlives the test."""
    await ms._stop_all()
    await ms._stop_logging()


class StateResource(BaseResource):
    """Serves the service's state on the report server, as the status resource's health does."""

    depends_on = ("tamarco_http_report_server",)

    async def pre_start(self) -> None:
        self.microservice.resources["tamarco_http_report_server"].add_route("GET", "/state", self.state)

    async def state(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse.json({"state": str(self.microservice.state.value)})


def build(report_settings: dict | None = None) -> tuple[Microservice, dict]:
    events = {"started": asyncio.Event()}

    class Drained(Microservice):
        name = "drained"
        api = HTTPServerResource()
        state = StateResource()

    @Drained.api.app.route("/slow")
    async def slow(request):
        events["started"].set()
        await asyncio.sleep(1.0)
        return text("done")

    ms = Drained()
    ms.settings.update_internal(
        {
            "system": {
                "resources": {
                    "api": {"port": 0},
                    "tamarco_http_report_server": {"port": 0, **(report_settings or {})},
                }
            }
        }
    )
    return ms, events


async def test_the_report_server_closes_after_the_other_resources_stopped():
    ms, events = build()
    await ms._start_all()
    report_url = ms.resources["tamarco_http_report_server"].url
    answers: list[tuple[float, str]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        request = asyncio.create_task(session.get(ms.api.url + "/slow"))
        await asyncio.wait_for(events["started"].wait(), 5)
        stopping = asyncio.create_task(stop_service(ms))
        response = await request
        assert (response.status, await response.text()) == (200, "done")
        answered_at = time.monotonic()
        while not stopping.done():
            try:
                async with session.get(report_url + "/state") as state:
                    answers.append((time.monotonic(), (await state.json())["state"]))
            except aiohttp.ClientConnectionError:
                break
            await asyncio.sleep(0.005)
        await stopping
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(report_url + "/state")
    # Still answering (state "stopping") after the HTTP server had drained its last request.
    assert [state for at, state in answers if at > answered_at][:1] == ["stopping"]


async def test_a_restarted_report_server_serves_again_at_once():
    ms, _ = build()
    await ms._start_all()
    try:
        await ms.restart_resource("tamarco_http_report_server")
        report_url = ms.resources["tamarco_http_report_server"].url
        async with aiohttp.ClientSession() as session, session.get(report_url + "/state") as response:
            assert (await response.json()) == {"state": "running"}
    finally:
        await stop_service(ms)


async def test_a_slow_client_is_cut_off_after_keep_alive_timeout_seconds():
    ms, _ = build({"keep_alive_timeout_seconds": 1})
    await ms._start_all()
    server = ms.resources["tamarco_http_report_server"]
    try:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        started = time.monotonic()

        async def trickle() -> None:
            for byte in b"GET /state HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)

        sender = asyncio.create_task(trickle())
        try:
            await asyncio.wait_for(reader.read(), 6)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            writer.close()
        took = time.monotonic() - started
        # An idle connection after a response goes the same way.
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /state HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b'running"}'), 5)
        idle_since = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 6) == b""
        idle = time.monotonic() - idle_since
        writer.close()
    finally:
        await stop_service(ms)
    print(f"report server: slow head closed after {took:.2f} s, idle connection after {idle:.2f} s")
    assert 1.0 <= took < 2.5
    assert idle < 2.5


async def test_keep_alive_timeout_seconds_is_checked():
    ms, _ = build({"keep_alive_timeout_seconds": -1})
    with pytest.raises(ResourceStartError) as raised:
        await ms._start_all()
    await stop_service(ms)
    assert isinstance(raised.value.error, HTTPSettingsError)
    assert "system.resources.tamarco_http_report_server.keep_alive_timeout_seconds" in str(raised.value)

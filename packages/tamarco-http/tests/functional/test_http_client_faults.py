"""Clients that misbehave: a disconnect mid-request is not a server error; slow clients are cut off."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sanic.response import text
from tamarco.core.errors import ResourceStartError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import Microservice
from tamarco.resources.io.http import HTTPSettingsError
from tamarco.resources.io.http.resource import HTTPServerResource

pytestmark = pytest.mark.functional


async def stop_service(ms: Microservice) -> None:
    """The stop sequence, then logging (as ``run()`` does), so no log handler outlives the test."""
    await ms._stop_all()
    await ms._stop_logging()


metrics = pytest.importorskip("tamarco.resources.basic.metrics")


class Service(Microservice):
    name = "faulty_clients"
    api = HTTPServerResource()


def build(settings: dict | None = None) -> tuple[Service, dict]:
    events = {"started": asyncio.Event(), "cancelled": asyncio.Event()}

    class One(Service):
        api = HTTPServerResource()

    @One.api.app.route("/slow")
    async def slow(request):
        events["started"].set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events["cancelled"].set()
            raise
        return text("late")

    @One.api.app.route("/")
    async def index(request):
        return text("ok")

    ms = One()
    api = {"port": 0, **(settings or {})}
    ms.settings.update_internal({"system": {"resources": {"api": api, "tamarco_http_report_server": {"port": 0}}}})
    return ms, events


async def test_a_client_that_disconnects_mid_request_is_counted_as_499_and_not_logged_as_an_error(http_session):
    ms, events = build()
    await ms._start_all()
    try:
        with capture_logs() as logs:
            _reader, writer = await asyncio.open_connection(ms.api.host, ms.api.port)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(events["started"].wait(), 5)
            writer.close()  # the client goes away while the handler runs
            await asyncio.wait_for(events["cancelled"].wait(), 5)
            async with http_session.get(ms.api.url + "/") as response:  # the server keeps serving
                assert response.status == 200
            report_server = ms.resources["tamarco_http_report_server"]
            async with http_session.get(report_server.url + "/metrics") as response:
                exposed = await response.text()
    finally:
        await stop_service(ms)
    slow = 'method="GET",route="/slow",server="api"'
    assert f'faulty_clients_http_requests_total{{{slow},status_code="499"}} 1.0' in exposed
    assert 'status_code="500"' not in exposed
    assert not [r for r in logs if r.levelno >= 30 and ("RequestCancelled" in r.message or "/slow" in r.message)]


async def raw_slow_client(host: str, port: int, every: float, payload: bytes, limit: float) -> tuple[float, bytes]:
    """Send ``payload`` one byte every ``every`` s; the seconds until the server closed, and what
    it answered. Fails if the connection is still open after ``limit`` s."""
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    answer = b""

    async def trickle() -> None:
        for byte in payload:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every)

    sender = asyncio.create_task(trickle())
    try:
        answer = await asyncio.wait_for(reader.read(), limit)
    except TimeoutError:
        raise AssertionError(f"the connection is still open after {limit} s") from None
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    return time.monotonic() - started, answer


async def test_slow_headers_are_cut_off_after_request_timeout_seconds():
    ms, _ = build({"request_timeout_seconds": 1, "keep_alive_timeout_seconds": 30})
    await ms._start_all()
    try:
        took, answer = await raw_slow_client(
            ms.api.host, ms.api.port, 0.2, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200, 6
        )
        # A well-behaved client on another connection is served meanwhile and afterwards.
        async with aiohttp.ClientSession() as session, session.get(ms.api.url + "/") as response:
            assert response.status == 200
    finally:
        await stop_service(ms)
    print(f"slow headers closed after {took:.2f} s")
    assert 1.0 <= took < 1.0 + 1.5  # Sanic checks its timeouts every min(timeouts)/2 s
    assert answer.startswith(b"HTTP/1.1 408")


async def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_timeout_seconds():
    ms, _ = build({"request_timeout_seconds": 10, "keep_alive_timeout_seconds": 1})
    await ms._start_all()
    try:
        reader, writer = await asyncio.open_connection(ms.api.host, ms.api.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
        answered = time.monotonic()
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF once the server closes
        took = time.monotonic() - answered
        writer.close()
    finally:
        await stop_service(ms)
    assert head.startswith(b"HTTP/1.1 200") and rest == b""
    assert 1.0 <= took < 2.5


@pytest.mark.parametrize("key", ["request_timeout_seconds", "keep_alive_timeout_seconds"])
async def test_the_timeouts_are_checked_settings(key):
    ms, _ = build({key: 0})
    with pytest.raises(ResourceStartError) as raised:
        await ms._start_all()
    await stop_service(ms)
    assert isinstance(raised.value.error, HTTPSettingsError)
    assert f"system.resources.api.{key}" in str(raised.value)

"""Slow bodies, silent connections and too many connections, with real sockets (issue 24):
the whole request has a deadline, a connection that never sends a byte is closed sooner than an
idle keep-alive one, and connections beyond max_connections get 503."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sanic.response import text
from tamarco.core.microservice import Microservice
from tamarco.resources.io.http.resource import HTTPServerResource

pytestmark = pytest.mark.functional


class Limited(Microservice):
    name = "limited_clients"
    api = HTTPServerResource()


def build(api: dict, report: dict | None = None) -> Microservice:
    class One(Limited):
        api = HTTPServerResource()

    @One.api.app.route("/upload", methods=["POST"])
    async def upload(request):
        return text(f"got {len(request.body)}")

    @One.api.app.route("/")
    async def index(request):
        return text("ok")

    ms = One()
    resources = {"api": {"port": 0, **api}, "tamarco_http_report_server": {"port": 0, **(report or {})}}
    ms.settings.update_internal({"system": {"resources": resources}})
    return ms


async def closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed the connection, and what it answered."""
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(reader.read(), limit)
    except TimeoutError:
        raise AssertionError(f"the connection is still open after {limit} s") from None
    return time.monotonic() - started, answer


async def test_a_body_trickled_one_byte_at_a_time_is_cut_at_the_request_deadline():
    ms = build({"request_timeout_seconds": 0.5, "request_deadline_seconds": 1.5, "keep_alive_timeout_seconds": 30})
    await ms._start_all()
    try:
        reader, writer = await asyncio.open_connection(ms.api.host, ms.api.port)
        writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")

        async def trickle() -> None:
            for _ in range(100):  # 100 bytes at 5 bytes a second: 20 s if nobody cut it
                writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(0.2)

        sender = asyncio.create_task(trickle())
        try:
            took, answer = await closed_after(reader, 8)
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            writer.close()
        async with aiohttp.ClientSession() as session:  # an honest upload is still served
            async with session.post(ms.api.url + "/upload", data=b"b" * 100) as response:
                assert await response.text() == "got 100"
    finally:
        await ms._stop_all()
        await ms._stop_logging()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert took < 1.5 + 1.0, took


async def test_a_connection_that_never_sends_a_byte_is_closed_before_the_keep_alive_timeout():
    ms = build({"request_timeout_seconds": 0.5, "first_byte_timeout_seconds": 1, "keep_alive_timeout_seconds": 60})
    await ms._start_all()
    try:
        reader, writer = await asyncio.open_connection(ms.api.host, ms.api.port)
        took, answer = await closed_after(reader, 5)
        writer.close()
        # A connection that made a request is idle keep-alive afterwards: kept past that second.
        reader, writer = await asyncio.open_connection(ms.api.host, ms.api.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(), 2.5)
        writer.close()
    finally:
        await ms._stop_all()
        await ms._stop_logging()
    assert answer == b"" and took < 1 + 1.0, (took, answer)


@pytest.mark.parametrize("server", ["api", "tamarco_http_report_server"])
async def test_connections_beyond_max_connections_get_503_and_are_closed(server):
    settings = {"max_connections": 3}
    ms = build(settings if server == "api" else {}, settings if server != "api" else None)
    await ms._start_all()
    resource = ms.resources[server]
    opened = []
    try:
        for _ in range(3):
            opened.append(await asyncio.open_connection(resource.host, resource.port))
        reader, writer = await asyncio.open_connection(resource.host, resource.port)
        _took, answer = await closed_after(reader, 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        # The three held connections are still served; once one closes, a new one is accepted.
        reader, writer = opened.pop()
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
        async with aiohttp.ClientSession() as session:

            async def served() -> bool:
                async with session.get(resource.url + "/") as response:
                    return response.status == 200

            deadline = time.monotonic() + 5
            while not await served():  # the closed connection leaves the server's set shortly
                assert time.monotonic() < deadline, "no connection accepted after one closed"
                await asyncio.sleep(0.05)
    finally:
        for _reader, writer in opened:
            writer.close()
        await ms._stop_all()
        await ms._stop_logging()

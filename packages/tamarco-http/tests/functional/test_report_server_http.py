"""The report server's HTTP handling over real sockets: core's neutral request and response,
routing (404, 405, HEAD, ``{name}`` segments), keep-alive and pipelining, bad requests."""

from __future__ import annotations

import asyncio
import gzip
from email.utils import parsedate_to_datetime

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import Microservice
from tamarco.core.report_server import ReportRequest, ReportResponse
from tamarco.resources.bases import BaseResource
from tamarco.resources.io.http._report_http import MAX_BODY_BYTES

pytestmark = pytest.mark.functional


class Echo(BaseResource):
    depends_on = ("tamarco_http_report_server",)

    async def pre_start(self) -> None:
        server = self.microservice.resources["tamarco_http_report_server"]
        server.add_route("POST", "/echo/{kind}/{name}", self.echo)
        server.add_route("GET", "/echo", self.echo)
        server.add_route("GET", "/gzip", self.gzipped)
        server.add_route("GET", "/boom", self.boom)
        server.add_route("GET", "/nothing", self.nothing)
        server.add_route("GET", "/slow", self.slow)
        self.slow_started = asyncio.Event()

    async def echo(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse.json(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "match": dict(request.match_info),
                "body": request.body.decode(),
                "agent": request.header("X-Agent"),
            },
            headers={"X-Echo": "yes"},
        )

    async def gzipped(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse(gzip.compress(b"small"), headers={"Content-Encoding": "gzip"})

    async def boom(self, request: ReportRequest) -> ReportResponse:
        raise RuntimeError("handler broke")

    async def nothing(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse(status=204)

    async def slow(self, request: ReportRequest) -> ReportResponse:
        self.slow_started.set()
        await asyncio.sleep(0.5)
        return ReportResponse.text("finished")


class EchoService(Microservice):
    name = "echoing"
    echo = Echo()
    metrics = status = profiler = memory_analyzer = None


@pytest.fixture
async def server():
    ms = EchoService()
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}})
    await ms._start_all()
    try:
        yield ms.resources["tamarco_http_report_server"]
    finally:
        await ms._stop_all()
        await ms._stop_logging()


async def test_requests_and_responses_cross_the_neutral_types(server, http_session):
    url = server.url + "/echo/kind%20a/bob?x=1&x=2&y="
    async with http_session.post(url, data=b"payload", headers={"x-agent": "probe"}) as response:
        assert response.status == 200 and response.headers["X-Echo"] == "yes"
        assert parsedate_to_datetime(response.headers["Date"]).tzinfo is not None  # an HTTP date
        assert response.content_type == "application/json"
        assert await response.json() == {
            "method": "POST",
            "path": "/echo/kind a/bob",
            "query": {"x": "1", "y": ""},
            "match": {"kind": "kind a", "name": "bob"},
            "body": "payload",
            "agent": "probe",
        }
    async with http_session.get(server.url + "/gzip") as response:  # the client inflates it
        assert (response.status, await response.read()) == (200, b"small")
    async with http_session.get(server.url + "/nothing") as response:
        assert (response.status, await response.read()) == (204, b"")


async def test_not_found_method_not_allowed_and_head(server, http_session):
    async with http_session.get(server.url + "/missing") as response:
        assert (response.status, await response.text()) == (404, "404: Not Found")
    async with http_session.delete(server.url + "/echo") as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET")
        assert await response.text() == "405: Method Not Allowed"
    async with http_session.get(server.url + "/echo/kind/bob") as response:
        assert response.status == 405  # a {name} route for POST only
    async with http_session.head(server.url + "/echo") as response:
        assert response.status == 200 and int(response.headers["Content-Length"]) > 0
        assert await response.read() == b""


async def test_a_failing_handler_is_a_logged_500_and_the_connection_goes_on(server, http_session):
    with capture_logs() as logs:
        async with http_session.get(server.url + "/boom") as response:
            assert (response.status, await response.text()) == (500, "500: Internal Server Error")
    assert "GET /boom failed" in logs.find(level="ERROR").message
    async with http_session.get(server.url + "/echo") as response:
        assert response.status == 200


async def test_pipelined_requests_are_answered_in_order_then_close(server):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            b"GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /echo?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.read(), 5)  # the server closes after the third
    finally:
        writer.close()
    first, second, third = (answer.index(marker) for marker in (b'"n": "1"', b"404: Not Found", b'"n": "3"'))
    assert first < second < third
    assert answer.count(b"HTTP/1.1 ") == 3 and b"Connection: close" in answer


async def test_http_1_0_keep_alive_is_announced_and_plain_1_0_closes(server):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"Connection: keep-alive" in head
        length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length")).split(b":")[1])
        await asyncio.wait_for(reader.readexactly(length), 5)
        writer.write(b"GET /echo HTTP/1.0\r\n\r\n")  # the same connection, then closed
        rest = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert rest.startswith(b"HTTP/1.1 200") and b"Connection: close" in rest


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(), b"413"),
    ],
)
async def test_bad_and_oversized_requests_are_refused_and_closed(server, request_bytes, status):
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request_bytes)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 " + status)


async def test_closing_answers_the_request_in_flight_then_refuses_connections():
    ms = EchoService()
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}})
    await ms._start_all()
    server = ms.resources["tamarco_http_report_server"]
    host, port = server.host, server.port
    try:
        idle_reader, idle_writer = await asyncio.open_connection(host, port)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(ms.echo.slow_started.wait(), 5)
        closing = asyncio.create_task(ms._stop_all())
        answer = await asyncio.wait_for(reader.read(), 5)  # answered, then closed
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # the idle one closed at once
        await asyncio.wait_for(closing, 10)
        writer.close()
        idle_writer.close()
    finally:
        await ms._stop_all()
        await ms._stop_logging()
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"finished")
    assert b"Connection: close" in answer
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)

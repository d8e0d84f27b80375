"""HTTP spans exported to the harness's OTLP receiver: server continues the caller, client injects."""

from __future__ import annotations

import aiohttp
import pytest
from sanic.response import json, text
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.io.http.resource import HTTPClientResource, HTTPServerResource

pytestmark = pytest.mark.functional

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def traced_service(
    endpoint: str, name: str = "http_traced"
) -> tuple[MicroserviceContext, HTTPServerResource, HTTPClientResource]:
    server, client = HTTPServerResource(), HTTPClientResource()

    @server.app.route("/items/<item_id:int>")
    async def item(request, item_id):
        server.logger.info("serving item %s", item_id)
        return json({"id": item_id, "traceparent": request.headers.get("traceparent")})

    @server.app.route("/broken")
    async def broken(request):
        raise RuntimeError("broken handler")

    @server.app.route("/plain")
    async def plain(request):
        return text("ok")

    cls = type("TracedCtx", (MicroserviceContext,), {"name": name, "api": server, "client": client})
    ctx = cls(environ={})
    ctx.settings.update_internal(
        {
            "system": {
                "tracing": {"enabled": True, "endpoint": endpoint},
                "resources": {"api": {"port": 0}, "client": {}},
            }
        }
    )
    return ctx, server, client


async def test_client_and_server_spans_one_trace(otlp_collector):
    ctx, server, client = traced_service(otlp_collector.url)
    with capture_logs() as logs:
        async with ctx:
            async with client.session.get(f"{server.url}/items/7?secret=x") as response:
                assert response.status == 200
                body = await response.json()
    spans = otlp_collector.wait_for_spans(lambda s: s["name"] in ("GET", "GET /items/<item_id:int>"), count=2)
    by_kind = {span["kind"]: span for span in spans}
    client_span, server_span = by_kind["CLIENT"], by_kind["SERVER"]
    assert server_span["name"] == "GET /items/<item_id:int>"
    assert client_span["name"] == "GET"
    assert server_span["trace_id"] == client_span["trace_id"]
    assert server_span["parent_span_id"] == client_span["span_id"]
    assert body["traceparent"].startswith(f"00-{client_span['trace_id']}-{client_span['span_id']}-")
    attributes = server_span["attributes"]
    assert attributes["http.route"] == "/items/<item_id:int>"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/items/7"
    assert client_span["attributes"]["url.full"] == f"{server.url}/items/7"  # no query
    assert client_span["attributes"]["http.response.status_code"] == 200
    assert server_span["resource"]["service.name"] == "http_traced"
    record = logs.find(message="serving item 7")
    assert record.extra["trace_id"] == server_span["trace_id"]
    assert record.extra["span_id"] == server_span["span_id"]


async def test_server_continues_the_callers_traceparent_and_marks_5xx(
    otlp_collector, http_session: aiohttp.ClientSession
):
    ctx, server, _client = traced_service(otlp_collector.url, "http_continued")
    async with ctx:
        headers = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        async with http_session.get(f"{server.url}/plain", headers=headers) as response:
            assert response.status == 200
        async with http_session.get(f"{server.url}/broken", headers=headers) as response:
            assert response.status == 500
    spans = otlp_collector.wait_for_spans(lambda s: s["trace_id"] == CALLER_TRACE, count=2)
    plain = next(span for span in spans if span["name"] == "GET /plain")
    assert plain["parent_span_id"] == CALLER_SPAN and plain["status"]["code"] == "UNSET"
    broken = next(span for span in spans if span["name"] == "GET /broken")
    assert broken["status"]["code"] == "ERROR"
    assert broken["attributes"]["http.response.status_code"] == 500
    assert broken["attributes"]["error.type"] == "500"
    exception = next(event for event in broken["events"] if event["name"] == "exception")
    assert exception["attributes"]["exception.type"].endswith("RuntimeError")


async def test_tracing_off_installs_nothing(otlp_collector, http_session: aiohttp.ClientSession):
    ctx, server, client = traced_service(otlp_collector.url, "http_untraced")
    await ctx.settings.update_internal_settings("system.tracing.enabled", False)
    async with ctx:
        assert server.tracing is None
        assert not client.session.trace_configs
        async with client.session.get(f"{server.url}/items/1") as response:
            assert (await response.json())["traceparent"] is None
    assert otlp_collector.spans() == []

"""/status shows tracing and the exporter's health, against the harness's OTLP receiver made to
fail on purpose; the exporter's header values never show."""

import asyncio

import aiohttp
import pytest
from tamarco.core.microservice import Microservice

pytestmark = pytest.mark.functional

SECRET = "team-secret-4f9a"


async def status(session, url):
    async with session.get(url + "/status") as response:
        return await response.json()


async def poll(session, url, predicate, timeout, what):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await status(session, url)
        if predicate(body["tracing"]):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s; last tracing report {body['tracing']}")
        await asyncio.sleep(0.1)


async def test_status_shows_tracing_health_and_never_header_values(kit, otlp_collector):
    service = type("TracedStatus", (Microservice,), {"name": "traced_status"})(environ={})
    service.settings.update_internal(
        {
            "system": {
                "tracing": {
                    "enabled": True,
                    "endpoint": otlp_collector.url,
                    "headers": {"x-team": SECRET},
                    "timeout": 1,
                },
                "resources": {"tamarco_http_report_server": {"port": 0}},
            }
        }
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, kit.Running(service):
        url = service.tamarco_http_report_server.url
        with service.tracing.span("work"):
            pass
        body = await poll(session, url, lambda t: t["spans_exported"] >= 1, 10, "a span exported")
        tracing = body["tracing"]
        assert tracing["enabled"] is True
        assert tracing["endpoint"] == otlp_collector.traces_url
        assert tracing["headers"] == ["x-team"] and tracing["spans_dropped"] == 0 and tracing["last_error"] is None
        # The header reached the collector, and only the collector.
        assert otlp_collector.requests()[0]["headers"]["x-team"] == SECRET
        otlp_collector.set_behaviour(status=400)  # refuses every export
        with service.tracing.span("lost"):
            pass
        body = await poll(session, url, lambda t: t["spans_dropped"] >= 1, 10, "a span dropped")
        assert "400" in body["tracing"]["last_error"]
        assert SECRET not in str(body)
    assert service.tracing.report()["enabled"] is False

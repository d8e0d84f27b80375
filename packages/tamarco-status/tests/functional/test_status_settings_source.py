"""A lost etcd connection shows in /status (and readiness, when the rule says so), against the
harness etcd stopped and started again while a real service watches its settings."""

import asyncio

import aiohttp
import pytest
from tamarco.core.microservice import Microservice

pytestmark = pytest.mark.functional


async def get_json(session, url):
    async with session.get(url) as response:
        return response.status, await response.json()


async def poll(session, url, predicate, timeout, what):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        code, body = await get_json(session, url)
        if predicate(code, body):
            return code, body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s; last answer {code} {body}")
        await asyncio.sleep(0.1)


async def test_a_lost_etcd_shows_as_a_degraded_settings_source(kit, etcd_service, etcd_prefix):
    environ = {
        **etcd_service.env(),
        "TAMARCO_ETCD_PREFIX": etcd_prefix,
        "TAMARCO_ETCD_STARTUP_TIMEOUT": "10",
        "TAMARCO_ETCD_TIMEOUT": "1",
    }
    service = type("DegradedService", (Microservice,), {"name": "degraded"})(environ=environ)
    service.settings.update_internal(
        {
            "system": {
                "resources": {
                    "tamarco_http_report_server": {"port": 0},
                    "status": {"health": {"not_ready_when": ["settings_degraded"]}},
                }
            }
        }
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session, kit.Running(service):
        url = service.tamarco_http_report_server.url
        _, body = await poll(
            session, url + "/status", lambda c, b: b["settings_source"]["state"] == "ok", 10, "watch established"
        )
        assert body["settings_source"]["source"].startswith("etcd ")
        assert (await get_json(session, url + "/health/ready"))[0] == 200
        await asyncio.to_thread(etcd_service.stop)
        try:
            _, body = await poll(
                session, url + "/status", lambda c, b: b["settings_source"]["state"] == "degraded", 15, "degraded"
            )
            assert any(p.startswith("settings source etcd ") for p in body["problems"]), body["problems"]
            ready_code, ready = await get_json(session, url + "/health/ready")
            assert ready_code == 503 and "serving the cached settings" in ready["reasons"][0]
        finally:
            await asyncio.to_thread(etcd_service.start)
        await poll(session, url + "/status", lambda c, b: b["settings_source"]["state"] == "ok", 30, "back to ok")
        await poll(session, url + "/health/ready", lambda c, b: c == 200, 5, "ready again")

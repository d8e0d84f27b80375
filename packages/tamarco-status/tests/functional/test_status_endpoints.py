"""The status endpoints of a running service over real HTTP (report server on a free port)."""

import asyncio
import http.client
import json
import marshal

import aiohttp
import pytest
from tamarco.core.microservice import Microservice
from tamarco.resources.bases import BaseResource, StatusCodes

pytestmark = pytest.mark.functional


def make_service(kit, resources_settings=None, **resources):
    service = type("StatusHTTPService", (Microservice,), {"name": "status_http", **resources})()
    settings = {"tamarco_http_report_server": {"port": 0}, **(resources_settings or {})}
    service.settings.update_internal({"system": {"resources": settings}})
    return service


@pytest.fixture
async def http_session():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def get_json(session, url):
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_status_shape_and_200(kit, http_session):
    service = make_service(kit, db=kit.Controlled())
    async with kit.Running(service):
        url = service.tamarco_http_report_server.url
        code, body = await get_json(http_session, url + "/status")
    assert code == 200
    assert body["microservice"] == "status_http" and body["state"] == "running"
    assert {"tamarco_http_report_server", "status", "profiler", "memory_analyzer", "db"} <= set(body["resources"])
    assert all(info["status_name"] == "STARTED" for info in body["resources"].values())
    assert body["resources"]["tamarco_http_report_server"]["url"] == url
    assert body["resources"]["profiler"]["enabled"] is False


def raw_get(host, port, path):
    """``http.client`` returns a 1xx status as the response (aiohttp and curl wait for more)."""
    connection = http.client.HTTPConnection(host, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


async def test_102_while_a_resource_is_connecting(kit, http_session):
    service = make_service(kit, db=kit.Controlled(connecting=True))
    async with kit.Running(service):
        server = service.tamarco_http_report_server
        code, headers, body = await asyncio.to_thread(raw_get, server.host, server.port, "/status")
        assert (code, body) == (102, b"")  # an interim response has no body
        assert headers["X-Tamarco-Not-Started"] == "db=CONNECTING"
        # aiohttp's client takes a 1xx as interim and keeps waiting for the final response:
        with pytest.raises(asyncio.TimeoutError):
            async with http_session.get(server.url + "/status", timeout=aiohttp.ClientTimeout(total=0.5)):
                pass
        service.db.set_status(StatusCodes.STARTED)
        assert (await get_json(http_session, server.url + "/status"))[0] == 200


async def test_503_instead_of_102_with_the_setting(kit, http_session):
    service = make_service(kit, {"status": {"http_code_while_starting": 503}}, db=kit.Controlled(connecting=True))
    async with kit.Running(service):
        code, body = await get_json(http_session, service.tamarco_http_report_server.url + "/status")
    assert code == 503
    assert body["resources"]["db"]["status_name"] == "CONNECTING"


async def test_500_after_a_resource_fails(kit, http_session):
    service = make_service(kit, db=kit.Controlled())
    async with kit.Running(service):
        url = service.tamarco_http_report_server.url
        assert (await get_json(http_session, url + "/status"))[0] == 200
        service.db.fail("connection reset by peer")
        code, body = await get_json(http_session, url + "/status")
        ready_code, ready = await get_json(http_session, url + "/health/ready")
        live_code, _ = await get_json(http_session, url + "/health/live")
    assert code == 500
    assert body["resources"]["db"]["status_name"] == "FAILED"
    assert body["resources"]["db"]["last_error"] == "ConnectionError: connection reset by peer"
    assert (ready_code, ready["not_ready"]) == (503, {"db": "FAILED"})
    assert live_code == 200  # a failed resource is not a dead process


class DrainingResource(BaseResource):
    """Stops slowly, like a server draining requests (stops before the report server)."""

    depends_on = ("tamarco_http_report_server",)

    def __init__(self):
        super().__init__()
        self.stopping = asyncio.Event()
        self.release = asyncio.Event()

    async def stop(self):
        self.stopping.set()
        await self.release.wait()
        await super().stop()


async def test_readiness_is_503_during_shutdown(kit, http_session):
    service = make_service(kit, drain=DrainingResource())
    async with kit.Running(service) as run:
        url = service.tamarco_http_report_server.url
        assert await get_json(http_session, url + "/health/ready") == (200, {"ready": True, "state": "running"})
        assert (await get_json(http_session, url + "/health/live"))[0] == 200
        stopping = asyncio.create_task(run.stop())
        await asyncio.wait_for(service.drain.stopping.wait(), 5)
        ready_code, ready = await get_json(http_session, url + "/health/ready")
        live_code, live = await get_json(http_session, url + "/health/live")
        service.drain.release.set()
        assert await stopping == 0
    assert ready_code == 503 and ready["state"] == "stopping"
    assert live_code == 503 and live["reasons"] == ["service is stopping"]


async def test_a_failing_resource_is_restarted_in_place_and_comes_back_started(kit, http_session, logs):
    policy = {
        "resources": {"restart_resource_on_failure": ["db"]},
        "max_attempts": 4,
        "backoff": {"initial_seconds": 0.05, "max_seconds": 0.2},
    }
    service = make_service(kit, {"status": {"restart_policy": policy}}, db=kit.Controlled())
    async with kit.Running(service):
        url = service.tamarco_http_report_server.url
        service.db.fail_starts = 2  # two restart attempts fail before the third works
        service.db.fail("connection lost")
        assert (await get_json(http_session, url + "/status"))[0] == 500
        record = await logs.wait_for(contains="resource db restarted: STARTED again (attempt 3/4)", timeout=10)
        code, body = await get_json(http_session, url + "/status")
    assert record.levelname == "INFO"
    assert code == 200
    assert body["resources"]["db"]["status_name"] == "STARTED"
    assert body["resources"]["db"]["restart_attempts"] == 3
    assert service.db.starts == 4
    attempts = [m for m in logs.messages if "restart attempt" in m]
    assert [m.split("restart attempt ")[1].split(" ")[0] for m in attempts] == ["1/4", "2/4", "3/4"]


async def test_profiler_and_memory_analyzer_files_and_endpoints(kit, http_session, tmp_path):
    settings = {
        "profiler": {
            "microservices_with_profiler": ["status_http"],
            "interval_seconds": 0.1,
            "file": str(tmp_path / "profile"),
        },
        "memory_analyzer": {
            "microservices_with_memory_analyzer": ["status_http"],
            "interval_seconds": 0.1,
            "file": str(tmp_path / "memory.json"),
        },
    }
    service = make_service(kit, settings)
    async with kit.Running(service):
        url = service.tamarco_http_report_server.url
        for _ in range(3):
            assert (await get_json(http_session, url + "/status"))[0] == 200
        await kit.wait_until(
            lambda: service.profiler.reports_written >= 1 and service.memory_analyzer.reports_written >= 1,
            timeout=30,
        )
        async with http_session.get(url + "/debug/profile") as response:
            profile_code, profile = response.status, await response.text()
        async with http_session.get(url + "/debug/profile?format=pstats") as response:
            pstats_dump = marshal.loads(await response.read())
        memory_code, memory = await get_json(http_session, url + "/debug/memory")
        profile_file = (tmp_path / "profile").read_text()
        memory_file = json.loads((tmp_path / "memory.json").read_text())
        _, status = await get_json(http_session, url + "/status")
    assert profile_code == 200
    assert "handle_status" in profile and "handle_status" in profile_file  # the endpoint was profiled
    assert any(key[2] == "handle_status" for key in pstats_dump)
    assert memory_code == 200
    assert memory["microservice"] == "status_http" and memory["top_allocations"]
    assert memory_file["microservice"] == "status_http" and "object_type_growth" in memory_file
    assert status["resources"]["profiler"]["enabled"] is True
    assert status["resources"]["profiler"]["reports_written"] >= 1
    assert status["resources"]["memory_analyzer"]["file"] == str(tmp_path / "memory.json")

"""The report server's bearer token (issue 24): /status and /debug/* need it, /health/* stays
open for probes, /metrics needs it only with protect_metrics; the token is never logged."""

from __future__ import annotations

import pytest
from tamarco.core.errors import ResourceStartError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import Microservice
from tamarco.core.report_server import ReportRequest, ReportResponse
from tamarco.resources.bases import BaseResource
from tamarco.resources.io.http import HTTPSettingsError

pytestmark = pytest.mark.functional

TOKEN = "s3cret-token-0123456789"
PATHS = ("/status", "/debug/profile", "/health/live", "/health/ready", "/metrics", "/")


class Endpoints(BaseResource):
    """What status, metrics and the debug resources mount."""

    depends_on = ("tamarco_http_report_server",)

    async def pre_start(self) -> None:
        report_server = self.microservice.resources["tamarco_http_report_server"]
        for path in PATHS[:-1]:
            report_server.add_route("GET", path, self.answer)

    async def answer(self, request: ReportRequest) -> ReportResponse:
        return ReportResponse.json({"path": request.path})


class Guarded(Microservice):
    name = "guarded"
    endpoints = Endpoints()
    # The plugins' own endpoints are replaced by Endpoints (tamarco-http alone has none).
    metrics = status = profiler = memory_analyzer = None


async def statuses(ms: Microservice, session, headers: dict[str, str] | None = None) -> dict[str, int]:
    url = ms.resources["tamarco_http_report_server"].url
    found = {}
    for path in PATHS:
        async with session.get(url + path, headers=headers or {}) as response:
            found[path] = response.status
    return found


@pytest.mark.parametrize("protect_metrics", [False, True])
async def test_the_bearer_token_guards_all_but_health_and_optionally_metrics(http_session, protect_metrics):
    ms = Guarded()
    report = {"port": 0, "bearer_token": TOKEN, "protect_metrics": protect_metrics}
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": report}}})
    with capture_logs() as logs:
        await ms._start_all()
        try:
            anonymous = await statuses(ms, http_session)
            wrong = await statuses(ms, http_session, {"Authorization": "Bearer nope"})
            authorized = await statuses(ms, http_session, {"Authorization": f"Bearer {TOKEN}"})
        finally:
            await ms._stop_all()
            await ms._stop_logging()
    metrics = 401 if protect_metrics else 200
    expected = {"/status": 401, "/debug/profile": 401, "/health/live": 200, "/health/ready": 200, "/": 401}
    assert anonymous == {**expected, "/metrics": metrics}
    assert wrong == anonymous
    assert set(authorized.values()) == {200}
    assert all(TOKEN not in record.message for record in logs)
    assert logs.find(logger="tamarco.tamarco_http_report_server", level="INFO").message


async def test_without_a_token_every_endpoint_is_open(http_session):
    ms = Guarded()
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}})
    await ms._start_all()
    try:
        assert set((await statuses(ms, http_session)).values()) == {200}
    finally:
        await ms._stop_all()
        await ms._stop_logging()


async def test_a_short_token_is_refused_without_showing_it():
    ms = Guarded()
    report = {"port": 0, "bearer_token": "short"}
    ms.settings.update_internal({"system": {"resources": {"tamarco_http_report_server": report}}})
    with pytest.raises(ResourceStartError) as raised:
        await ms._start_all()
    await ms._stop_all()
    await ms._stop_logging()
    assert isinstance(raised.value.error, HTTPSettingsError)
    assert "system.resources.tamarco_http_report_server.bearer_token" in str(raised.value)
    assert "short" not in str(raised.value)

"""What used to be invisible in /status and readiness (issue 14, item 8): a dead @task or
@thread, a resource FAILED at runtime with no restart policy; and the readiness rule."""

import asyncio
from importlib import metadata

import pytest
from tamarco.core.microservice import Microservice, task, thread
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status import StatusResource, StatusSettingsError


class OwnStatus(BaseResource):
    """Computes its status from its own state, as I/O resources do: it still says STARTED."""

    async def status(self):
        return {"status": int(StatusCodes.STARTED), "connections": 1}


def make_service(kit, settings=None, extra=None, **resources):
    attrs = {
        "name": "health_rules",
        "use_default_resources": False,
        "tamarco_http_report_server": kit.ReportServer(),
        "status": StatusResource(),
        **resources,
        **(extra or {}),
    }
    service = type("HealthRulesService", (Microservice,), attrs)()
    service.settings.update_internal({"system": {"resources": {"status": settings or {}}}})
    return service


async def _dies(self):
    await asyncio.sleep(0)
    raise RuntimeError("consumer crashed")


def _thread_dies(self):
    raise ValueError("poller crashed")


@pytest.mark.parametrize(
    ("extra", "name", "kind", "error"),
    [
        ({"consume": task(_dies)}, "_dies", "task", "RuntimeError: consumer crashed"),
        ({"poll": thread(_thread_dies)}, "_thread_dies", "thread", "ValueError: poller crashed"),
    ],
)
async def test_a_dead_task_or_thread_shows_in_status_and_makes_the_service_not_ready(
    kit, logs, extra, name, kind, error
):
    service = make_service(kit, extra=extra)
    server = service.tamarco_http_report_server
    async with kit.Running(service):
        await kit.wait_until(lambda: service.tasks.failed())
        code, body, _ = await server.get("/status")
        ready_code, ready, _ = await server.get("/health/ready")
    assert code == 200  # every resource is STARTED: the 0.1 rule of the /status code holds
    assert body["tasks"][name]["kind"] == kind
    assert body["tasks"][name]["state"] == "failed"
    assert body["tasks"][name]["error"] == error
    assert body["problems"] == [f"{kind} {name} failed: {error}"]
    assert ready_code == 503
    assert ready["reasons"] == [f"{kind} {name} failed: {error}"]
    assert logs.find(level="ERROR", message=f"{kind} {name} ended: it raised {error} (see /status)")


async def test_the_readiness_rule_is_a_setting(kit):
    service = make_service(kit, {"health": {"not_ready_when": []}}, extra={"consume": task(_dies)})
    async with kit.Running(service):
        await kit.wait_until(lambda: service.tasks.failed())
        ready_code, _, _ = await service.tamarco_http_report_server.get("/health/ready")
        _, body, _ = await service.tamarco_http_report_server.get("/status")
    assert ready_code == 200
    assert body["problems"] == ["task _dies failed: RuntimeError: consumer crashed"]


async def test_a_resource_failed_at_runtime_without_a_policy_shows_and_is_logged_once(kit, logs):
    rule = {"critical_resources": [], "health": {"not_ready_when": ["resource_failed"]}}
    service = make_service(kit, rule, cache=OwnStatus())
    server = service.tamarco_http_report_server
    async with kit.Running(service):
        assert (await server.get("/health/ready"))[0] == 200
        service.cache.set_status(StatusCodes.FAILED, ConnectionError("reset by peer"))
        service.cache.set_status(StatusCodes.FAILED, ConnectionError("reset by peer"))  # no new transition
        code, body, _ = await server.get("/status")
        ready_code, ready, _ = await server.get("/health/ready")
    assert code == 500
    assert body["resources"]["cache"]["status_name"] == "FAILED"
    assert body["resources"]["cache"]["last_error"] == "ConnectionError: reset by peer"
    assert body["problems"] == ["resource cache is FAILED: ConnectionError: reset by peer"]
    assert ready_code == 503 and ready["reasons"] == body["problems"]
    transitions = logs.filter(level="ERROR", contains="resource cache is FAILED")
    assert [r.message for r in transitions] == [
        "resource cache is FAILED (was STARTED): ConnectionError: reset by peer"
    ]


async def test_the_settings_source_is_in_status(kit):
    service = make_service(kit)
    async with kit.Running(service):
        _, body, _ = await service.tamarco_http_report_server.get("/status")
    assert body["settings_source"] == {"source": None, "state": "none"}


def test_an_unknown_readiness_condition_names_the_key(kit):
    from tamarco.resources.basic.status import load_status_config

    with pytest.raises(StatusSettingsError) as raised:
        load_status_config(
            {"health": {"not_ready_when": ["task_failed", "moon_phase"]}},
            prefix="system.resources.status",
            resources=["status"],
            service="svc",
            own_name="status",
            non_critical_by_default=(),
        )
    assert str(raised.value).startswith("setting system.resources.status.health.not_ready_when must be a list of")
    assert "task_failed, resource_failed, settings_degraded" in str(raised.value)


async def test_the_installed_tamarco_distributions_are_in_status(kit):
    service = make_service(kit)
    async with kit.Running(service):
        _, body, _ = await service.tamarco_http_report_server.get("/status")
    assert body["versions"]["tamarco-core"] == metadata.version("tamarco-core")
    assert body["versions"]["tamarco-status"] == metadata.version("tamarco-status")
    assert all(name == "tamarco" or name.startswith("tamarco-") for name in body["versions"])


async def test_a_stuck_message_handler_shows_in_status_and_can_make_the_service_not_ready(kit):
    from tamarco.core.messaging import InMemoryTransport, MessageOutput, MessagingResource, PullInput

    release = asyncio.Event()

    async def stubborn(body):
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                pass  # ignores its handler timeout: holds the slot

    class Bus(MessagingResource):
        transport_kind = "memory"

    output = MessageOutput("jobs")
    bus = Bus(inputs=[PullInput("jobs", on_message=stubborn)], outputs=[output], transport=InMemoryTransport())
    service = make_service(kit, {"health": {"not_ready_when": ["handler_stuck"]}}, bus=bus)
    service.settings.update_internal(
        {"system": {"resources": {"bus": {"delivery": {"handler_timeout_seconds": 0.05}}}}}
    )
    server = service.tamarco_http_report_server
    async with kit.Running(service):
        assert (await server.get("/health/ready"))[0] == 200
        await output.push("x")
        await kit.wait_until(lambda: bus.stuck_handlers())
        _, body, _ = await server.get("/status")
        ready_code, ready, _ = await server.get("/health/ready")
        release.set()
        await kit.wait_until(lambda: not bus.stuck_handlers())
        assert (await server.get("/health/ready"))[0] == 200
    jobs = body["resources"]["bus"]["inputs"]["jobs"]
    assert jobs["stuck"] == 1 and jobs["handler_timeout_seconds"] == 0.05 and jobs["timed_out"] == 0
    assert ready_code == 503
    assert ready["reasons"][0].startswith("resource bus input jobs: 1 handler(s) still running past handler_timeout")

"""The status resource inside a running service, with an in-memory report server."""

import asyncio

from tamarco.core.microservice import EXIT_FAILURE, Microservice
from tamarco.core.redaction import MASK
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status import StatusResource


def make_service(kit, settings=None, **resources):
    """A fresh service class (resources are class attributes: one class per test)."""
    attrs = {
        "name": "status_unit",
        "use_default_resources": False,
        "tamarco_http_report_server": kit.ReportServer(),
        "status": StatusResource(),
        **resources,
    }
    service = type("StatusUnitService", (Microservice,), attrs)()
    service.settings.update_internal({"system": {"resources": {"status": settings or {}}}})
    return service


FAST_RESTARTS = {"max_attempts": 3, "backoff": {"initial_seconds": 0.01, "max_seconds": 0.05}}


async def test_status_shape_and_200_when_everything_started(kit):
    service = make_service(kit, db=kit.Controlled())
    async with kit.Running(service):
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 200
    assert body["microservice"] == "status_unit"
    assert body["state"] == "running"
    assert body["instance_id"] == service.instance_id
    assert isinstance(body["loop_lag_seconds"], float)
    assert set(body["resources"]) == {"tamarco_http_report_server", "status", "db"}
    assert body["resources"]["db"] == {"status": 2, "status_name": "STARTED"}
    assert body["resources"]["status"]["status_name"] == "STARTED"


async def test_102_while_a_resource_is_connecting_with_a_header_naming_it(kit):
    service = make_service(kit, db=kit.Controlled(connecting=True))
    async with kit.Running(service):
        code, _, headers = await service.tamarco_http_report_server.get("/status")
        assert code == 102
        assert headers["X-Tamarco-Not-Started"] == "db=CONNECTING"
        service.db.set_status(StatusCodes.STARTED)
        code, _, headers = await service.tamarco_http_report_server.get("/status")
        assert code == 200
        assert "X-Tamarco-Not-Started" not in headers


async def test_http_code_while_starting_setting(kit):
    service = make_service(kit, {"http_code_while_starting": 503}, db=kit.Controlled(connecting=True))
    async with kit.Running(service):
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 503
    assert body["resources"]["db"]["status_name"] == "CONNECTING"


async def test_500_with_the_error_after_a_resource_fails(kit):
    service = make_service(kit, db=kit.Controlled())
    async with kit.Running(service):
        service.db.fail("connection reset by peer")
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 500
    assert body["resources"]["db"]["status_name"] == "FAILED"
    assert body["resources"]["db"]["last_error"] == "ConnectionError: connection reset by peer"


class BrokenStatus(BaseResource):
    async def status(self):
        raise ValueError("cannot compute")


async def test_a_resource_whose_status_raises_is_failed_and_the_endpoint_still_answers(kit):
    service = make_service(kit, broken=BrokenStatus(), db=kit.Controlled())
    async with kit.Running(service):
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 500
    assert body["resources"]["broken"]["status_name"] == "FAILED"
    assert body["resources"]["broken"]["error"] == "status() raised ValueError: cannot compute"
    assert body["resources"]["db"]["status_name"] == "STARTED"


class Leaky(BaseResource):
    async def status(self):
        info = await super().status()
        info.update(target="amqp://svc:hunter2-secret@127.0.0.1:5672/", password="hunter2-secret", user="svc")
        return info


async def test_no_secrets_in_status(kit):
    service = make_service(kit, amqp=Leaky())
    service.settings.update_internal({"system": {"resources": {"amqp": {"password": "hunter2-secret"}}}})
    async with kit.Running(service):
        service.amqp.set_status(StatusCodes.FAILED, "auth failed with password hunter2-secret")
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 500
    text = str(body)
    assert "hunter2" not in text
    assert body["resources"]["amqp"]["target"] == f"amqp://svc:{MASK}@127.0.0.1:5672/"
    assert body["resources"]["amqp"]["last_error"] == f"auth failed with password {MASK}"
    assert body["resources"]["amqp"]["user"] == "svc"


async def test_readiness_follows_critical_resources(kit):
    service = make_service(kit, db=kit.Controlled(), cache=kit.Controlled())
    server = service.tamarco_http_report_server
    async with kit.Running(service):
        assert (await server.get("/health/ready"))[:2] == (200, {"ready": True, "state": "running"})
        service.cache.set_status(StatusCodes.CONNECTING)
        code, body, _ = await server.get("/health/ready")
        assert code == 503
        assert body["not_ready"] == {"cache": "CONNECTING"}
        # the report server and status itself are not critical by default
        service.status.set_status(StatusCodes.FAILED, "pretend")
        service.cache.set_status(StatusCodes.STARTED)
        assert (await server.get("/health/ready"))[0] == 200


async def test_critical_resources_setting_limits_readiness(kit):
    service = make_service(kit, {"critical_resources": ["db"]}, db=kit.Controlled(), cache=kit.Controlled())
    async with kit.Running(service):
        service.cache.fail()
        assert (await service.tamarco_http_report_server.get("/health/ready"))[0] == 200
        service.db.fail()
        assert (await service.tamarco_http_report_server.get("/health/ready"))[0] == 503


class SlowStop(BaseResource):
    def __init__(self):
        super().__init__()
        self.stopping = asyncio.Event()
        self.release = asyncio.Event()

    async def stop(self):
        self.stopping.set()
        await self.release.wait()
        await super().stop()


async def test_probes_answer_503_as_soon_as_shutdown_begins(kit):
    service = make_service(kit, slow=SlowStop())
    server = service.tamarco_http_report_server
    async with kit.Running(service) as run:
        assert (await server.get("/health/live"))[0] == 200
        assert (await server.get("/health/ready"))[0] == 200
        stopping = asyncio.create_task(run.stop())
        await asyncio.wait_for(service.slow.stopping.wait(), 5)
        live_code, live, _ = await server.get("/health/live")
        ready_code, ready, _ = await server.get("/health/ready")
        service.slow.release.set()
        assert await stopping == 0
    assert (live_code, ready_code) == (503, 503)
    assert live["live"] is False and live["reasons"] == ["service is stopping"]
    assert ready == {"ready": False, "state": "stopping", "not_ready": {"slow": "STOPPING"}}


async def test_liveness_fails_after_the_loop_was_blocked(kit):
    import time

    service = make_service(
        kit,
        {
            "health": {
                "loop_lag_threshold_seconds": 0.2,
                "loop_lag_interval_seconds": 0.02,
                "loop_lag_window_seconds": 0.5,
            }
        },
    )
    server = service.tamarco_http_report_server
    async with kit.Running(service):
        assert (await server.get("/health/live"))[0] == 200
        time.sleep(0.4)  # noqa: ASYNC251 - a blocking call on the event loop
        code, body, _ = await server.get("/health/live")
        assert code == 503
        assert body["loop_lag_seconds"] >= 0.35
        assert "event loop lagged" in body["reasons"][0]
        await kit.wait_until(lambda: service.status.loop_lag.worst_lag() < 0.2, timeout=5)
        assert (await server.get("/health/live"))[0] == 200


async def test_a_failing_resource_is_restarted_in_place(kit, logs):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["db"]}, **FAST_RESTARTS}},
        db=kit.Controlled(),
    )
    async with kit.Running(service):
        service.db.fail_starts = 1  # the first restart fails too
        service.db.fail()
        await kit.wait_until(lambda: service.db.status_code == StatusCodes.STARTED and service.db.starts == 3)
        code, body, _ = await service.tamarco_http_report_server.get("/status")
    assert code == 200
    assert body["resources"]["db"]["restart_attempts"] == 2
    assert service.db.stops >= 2
    messages = logs.messages
    assert any("restart attempt 1/3" in m for m in messages)
    assert any("restart attempt 2/3" in m for m in messages)
    assert any("resource db restarted: STARTED again (attempt 2/3)" in m for m in messages)


async def test_a_resource_failing_to_start_is_retried_and_the_service_keeps_starting(kit):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["db"]}, **FAST_RESTARTS}},
        db=kit.Controlled(fail_starts=1),
    )
    async with kit.Running(service) as run:
        assert service.state == "running"
        await kit.wait_until(lambda: service.db.status_code == StatusCodes.STARTED)
        assert await run.stop() == 0
    assert service.db.starts == 2


async def test_restart_attempts_stop_at_the_maximum_then_the_service_exits(kit, logs):
    service = make_service(
        kit,
        {
            "restart_policy": {
                "resources": {"restart_resource_on_failure": ["db"], "restart_microservice_on_failure": ["db"]},
                **FAST_RESTARTS,
            }
        },
        db=kit.Controlled(),
    )
    async with kit.Running(service) as run:
        service.db.fail_starts = 100
        service.db.fail()
        code = await asyncio.wait_for(run.task, 10)
    assert code == EXIT_FAILURE
    assert service.db.starts == 1 + 3  # the first start, then max_attempts restarts
    assert any("still FAILED after 3 restart attempts, giving up" in m for m in logs.messages)


async def test_restart_attempts_stop_at_the_maximum_and_the_resource_stays_failed(kit):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["db"]}, **FAST_RESTARTS}},
        db=kit.Controlled(),
    )
    async with kit.Running(service):
        service.db.fail_starts = 100
        service.db.fail()
        await kit.wait_until(lambda: service.db.starts == 4 and not service.status.policies.restarting("db"))
        code, body, _ = await service.tamarco_http_report_server.get("/status")
        assert service.state == "running"
    assert code == 500
    assert body["resources"]["db"]["status_name"] == "FAILED"
    assert "cannot connect (start #4)" in body["resources"]["db"]["last_error"]


async def test_restart_microservice_on_failure_stops_with_exit_failure(kit, logs):
    service = make_service(
        kit, {"restart_policy": {"resources": {"restart_microservice_on_failure": "all"}}}, db=kit.Controlled()
    )
    async with kit.Running(service) as run:
        service.db.fail("redis went away")
        code = await asyncio.wait_for(run.task, 10)
    assert code == EXIT_FAILURE
    assert service.state == "stopped"
    assert any(
        "restart policy restart_microservice_on_failure: resource db FAILED (ConnectionError: redis went away)" in m
        for m in logs.messages
    )


async def test_a_resource_outside_the_policies_just_stays_failed(kit):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_microservice_on_failure": ["db"]}}},
        db=kit.Controlled(),
        other=kit.Controlled(),
    )
    async with kit.Running(service) as run:
        service.other.fail()  # policies react synchronously, in the status listener
        assert not service.status.policies.microservice_stop_requested
        assert not service.status.policies.restarting("other")
        await asyncio.sleep(0)
        assert service.state == "running"
        assert service.other.starts == 1
        assert await run.stop() == 0


async def test_a_policy_naming_an_unknown_resource_is_a_warning_and_the_service_starts(kit, logs):
    # shared policies (etcd, system.resources.status) name resources only some services have
    service = make_service(kit, {"restart_policy": {"resources": {"restart_resource_on_failure": ["kafka"]}}})
    async with kit.Running(service) as run:
        assert service.state == "running"
        assert service.status.config.restart_policy.restart_resource_on_failure == frozenset()
        assert await run.stop() == 0
    record = logs.find(
        contains="system.resources.status.restart_policy.resources.restart_resource_on_failure names 'kafka'"
    )
    assert record.levelname == "WARNING"


async def test_restart_policy_is_a_live_setting(kit, logs):
    service = make_service(kit, {"restart_policy": FAST_RESTARTS}, db=kit.Controlled())
    async with kit.Running(service):
        await service.settings.set(
            "system.resources.status.restart_policy.resources.restart_resource_on_failure", ["db"]
        )
        assert service.status.config.restart_policy.restart_resource_on_failure == {"db"}
        service.db.fail()
        await kit.wait_until(lambda: service.db.status_code == StatusCodes.STARTED)
        # an invalid change is refused and the previous policy kept
        await service.settings.set("system.resources.status.restart_policy.resources.restart_resource_on_failure", 3)
        assert service.status.config.restart_policy.restart_resource_on_failure == {"db"}
        # an unknown resource is left out, with a warning
        await service.settings.set(
            "system.resources.status.restart_policy.resources.restart_resource_on_failure", ["db", "nope"]
        )
        assert service.status.config.restart_policy.restart_resource_on_failure == {"db"}
    assert logs.find(contains="restart_resource_on_failure names 'nope'").levelname == "WARNING"


async def test_an_unknown_key_changed_live_is_an_error_naming_the_known_ones(kit, logs):
    service = make_service(kit, db=kit.Controlled())
    async with kit.Running(service):
        config = service.status.config
        await service.settings.set("system.resources.status.http_code_while_startin", 503)  # a typo
        assert service.status.config is config
        # status re-reads its whole tree: a live change applies once the unknown key is gone
        await service.settings.delete("system.resources.status.http_code_while_startin")
        await service.settings.set("system.resources.status.http_code_while_starting", 503)
        assert service.status.config.http_code_while_starting == 503
    assert logs.find(level="ERROR", contains="http_code_while_startin ").message == (
        "setting system.resources.status.http_code_while_startin changed, but http_code_while_startin is not a "
        "setting of resource status (known: critical_resources, debug, health, host, http_code_while_starting, port, "
        "restart_policy, status_timeout_seconds): it is ignored, and the next start will refuse it"
    )
    assert not logs.filter(contains="http_code_while_startin changed; resource status needs a restart")


async def test_without_a_report_server_the_service_runs_and_says_so_once(kit, logs):
    # the report server is found by its contract (tamarco.core.report_server.ReportServer), not by
    # name: a service without one builds and runs; status says once what it does not serve
    attrs = {"name": "no_report", "use_default_resources": False, "status": StatusResource(), "db": kit.Controlled()}
    service = type("NoReport", (Microservice,), attrs)()
    assert service.resource_dependencies["status"] == []
    async with kit.Running(service):
        assert service.status.status_code == StatusCodes.STARTED
        await service.status.pre_start()  # as a restart of the resource does: still one line
    lines = [m for m in logs.messages if "has no report server" in m]
    assert len(lines) == 1
    assert "no_report" in lines[0] and "/status, /health/live and /health/ready are not served" in lines[0]


async def test_status_starts_after_the_report_server_found_by_its_contract(kit):
    service = make_service(kit)
    assert service.resource_dependencies["status"] == ["tamarco_http_report_server"]
    assert service.resources_order.index("tamarco_http_report_server") < service.resources_order.index("status")


async def test_a_secret_changed_live_is_masked_too(kit):
    service = make_service(kit, amqp=Leaky())
    async with kit.Running(service):
        await service.settings.set("system.resources.amqp.password", "rotated-password-42")
        service.amqp.set_status(StatusCodes.FAILED, "auth failed for rotated-password-42")
        _, body, _ = await service.tamarco_http_report_server.get("/status")
    assert body["resources"]["amqp"]["last_error"] == f"auth failed for {MASK}"


async def test_01_status_server_settings_are_reported_as_moved(kit, logs):
    service = make_service(kit, {"host": "127.0.0.1", "port": 5747})
    async with kit.Running(service):
        pass
    record = logs.find(contains="setting system.resources.status.port is ignored")
    assert "system.resources.tamarco_http_report_server.port" in record.message


class SlowPostStart(BaseResource):
    def __init__(self):
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def post_start(self):
        self.entered.set()
        await self.release.wait()


async def test_a_restart_waits_for_the_start_sequence_to_end(kit):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["db"]}, **FAST_RESTARTS}},
        db=kit.Controlled(fail_starts=1),
        slow=SlowPostStart(),
    )
    runner = asyncio.create_task(service.run_until_stopped())
    try:
        await asyncio.wait_for(service.slow.entered.wait(), 5)
        assert service.status.policies.restarting("db")
        await asyncio.sleep(0.1)  # several backoff periods: the restart must still be waiting
        assert service.state == "starting"
        assert service.db.starts == 1
        service.slow.release.set()
        await kit.wait_until(lambda: service.db.status_code == StatusCodes.STARTED)
        assert service.db.starts == 2
    finally:
        service.slow.release.set()
        await service.stop_gracefully()
        assert await asyncio.wait_for(runner, 10) == 0


async def test_a_restart_pending_when_the_service_stops_during_startup_ends(kit):
    service = make_service(
        kit,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["db"]}, **FAST_RESTARTS}},
        db=kit.Controlled(fail_starts=1),
        slow=SlowPostStart(),
    )
    runner = asyncio.create_task(service.run_until_stopped())
    await asyncio.wait_for(service.slow.entered.wait(), 5)
    task = service.status.policies._restarting["db"]
    await service.stop_gracefully()
    assert await asyncio.wait_for(runner, 10) == 0
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
    assert task.done()
    assert service.db.starts == 1


class LeakyPass(BaseResource):
    async def status(self):
        info = await super().status()
        info.update(target="amqp://bob:pa/ss-SECRET@127.0.0.1:5672/vhost", pass_="x", **{"pass": "plain-pass-value"})
        return info


async def test_no_secret_under_a_pass_key_nor_in_a_url_password_holding_a_slash(kit):
    service = make_service(kit, amqp=LeakyPass())
    service.settings.update_internal({"system": {"resources": {"amqp": {"pass": "pa/ss-SECRET"}}}})
    async with kit.Running(service):
        service.amqp.set_status(StatusCodes.FAILED, "login bob/pa/ss-SECRET refused")
        _, body, _ = await service.tamarco_http_report_server.get("/status")
    assert "SECRET" not in str(body) and "plain-pass-value" not in str(body)
    assert body["resources"]["amqp"]["pass"] == MASK
    assert body["resources"]["amqp"]["target"] == f"amqp://bob:{MASK}@127.0.0.1:5672/vhost"
    assert body["resources"]["amqp"]["last_error"] == f"login bob/{MASK} refused"

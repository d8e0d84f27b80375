"""Restart policies delegate the restart to the core: a resource and its dependents."""

import asyncio

from tamarco.core.microservice import Microservice
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic.status import StatusResource

FAST_RESTARTS = {"max_attempts": 3, "backoff": {"initial_seconds": 0.01, "max_seconds": 0.05}}


class Recorder(BaseResource):
    """Journals every lifecycle method; ``fail_starts`` makes the next starts raise."""

    def __init__(self, journal, depends_on=()):
        super().__init__()
        self.journal = journal
        self.depends_on = tuple(depends_on)
        self.fail_starts = 0

    async def pre_start(self):
        self.journal.append(f"pre_start {self.name}")

    async def start(self):
        self.journal.append(f"start {self.name}")
        if self.fail_starts:
            self.fail_starts -= 1
            raise ConnectionError(f"{self.name}: cannot connect")
        await super().start()

    async def post_start(self):
        self.journal.append(f"post_start {self.name}")

    async def stop(self):
        self.journal.append(f"stop {self.name}")
        await super().stop()

    async def post_stop(self):
        self.journal.append(f"post_stop {self.name}")


def make_service(kit, journal, status_settings):
    attrs = {
        "name": "restart_dependents",
        "use_default_resources": False,
        "tamarco_http_report_server": kit.ReportServer(),
        "status": StatusResource(),
        "a": Recorder(journal),
        "b": Recorder(journal, depends_on=["a"]),
    }
    service = type("RestartDependents", (Microservice,), attrs)(environ={})
    service.settings.update_internal({"system": {"resources": {"status": status_settings}}})
    return service


async def test_a_failed_resource_is_restarted_with_its_dependents(kit, logs):
    journal = []
    service = make_service(
        kit, journal, {"restart_policy": {"resources": {"restart_resource_on_failure": ["a"]}, **FAST_RESTARTS}}
    )
    async with kit.Running(service):
        journal.clear()
        service.a.set_status(StatusCodes.FAILED, ConnectionError("connection lost"))
        await kit.wait_until(lambda: "post_start b" in journal)
        assert service.a.status_code == StatusCodes.STARTED
        assert service.b.status_code == StatusCodes.STARTED
        # b depends on a: stopped before it, started after it (stage by stage, as at start)
        assert journal == [
            "stop b",
            "stop a",
            "pre_start a",
            "pre_start b",
            "start a",
            "start b",
            "post_start a",
            "post_start b",
        ]
        code, body, _ = await service.tamarco_http_report_server.get("/status")
        assert code == 200
        assert body["resources"]["a"]["restart_attempts"] == 1
    assert any("resource a restarted: STARTED again (attempt 1/3)" in m for m in logs.messages)


async def test_a_0_1_resource_assigning_status_failed_triggers_the_policy(kit):
    """0.1 resources wrote ``self._status = StatusCodes.FAILED``: the policy restarts them too."""
    journal = []
    service = make_service(
        kit, journal, {"restart_policy": {"resources": {"restart_resource_on_failure": ["a"]}, **FAST_RESTARTS}}
    )
    async with kit.Running(service):
        journal.clear()
        service.a._status = StatusCodes.FAILED
        await kit.wait_until(lambda: "post_start b" in journal)
        assert journal[:2] == ["stop b", "stop a"]
        assert service.a._status == StatusCodes.STARTED


async def test_a_failed_attempt_is_retried_and_the_dependents_come_back_too(kit, logs):
    journal = []
    service = make_service(
        kit, journal, {"restart_policy": {"resources": {"restart_resource_on_failure": ["a"]}, **FAST_RESTARTS}}
    )
    async with kit.Running(service):
        service.a.fail_starts = 1
        service.a.set_status(StatusCodes.FAILED, "connection lost")
        await kit.wait_until(
            lambda: service.a.status_code == StatusCodes.STARTED and service.b.status_code == StatusCodes.STARTED
        )
        assert journal.count("start a") == 1 + 2  # the service start, a failed restart, a good one
        assert journal.count("start b") == 1 + 1  # not started while a failed
    messages = logs.messages
    assert any("restart of resource 'a': resource 'a' failed in start: ConnectionError" in m for m in messages)
    assert any("resource a restarted: STARTED again (attempt 2/3)" in m for m in messages)


async def test_a_dependent_failing_during_the_restart_is_not_restarted_twice(kit):
    journal = []
    service = make_service(
        kit,
        journal,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["a", "b"]}, **FAST_RESTARTS}},
    )
    async with kit.Running(service):
        journal.clear()
        service.b.fail_starts = 1  # b fails in the restart of a: a's next attempt restarts it
        service.a.set_status(StatusCodes.FAILED, "connection lost")
        await kit.wait_until(
            lambda: (
                service.a.status_code == StatusCodes.STARTED
                and service.b.status_code == StatusCodes.STARTED
                and not service.status.policies.restarting("a")
            )
        )
        await asyncio.sleep(0.1)  # several backoff periods: no restart of b of its own follows
        assert not service.status.policies.restarting("b")
        assert journal.count("start a") == 2 and journal.count("start b") == 2


async def test_a_policy_naming_a_resource_the_service_lacks_is_a_warning(kit, logs):
    journal = []
    service = make_service(
        kit,
        journal,
        {"restart_policy": {"resources": {"restart_resource_on_failure": ["a", "kafka"]}, **FAST_RESTARTS}},
    )
    async with kit.Running(service) as run:
        assert service.state == "running"
        assert service.status.config.restart_policy.restart_resource_on_failure == {"a"}
        service.a.set_status(StatusCodes.FAILED, "connection lost")
        await kit.wait_until(lambda: journal.count("post_start b") == 2)
        assert await run.stop() == 0
    record = logs.find(contains="restart_resource_on_failure names 'kafka'")
    assert record.levelname == "WARNING"
    assert "not a resource of service 'restart_dependents'" in record.message
    assert "ignored by this service" in record.message

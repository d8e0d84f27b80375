import asyncio
import importlib.util

import pytest
from tamarco.core import default_resources
from tamarco.core.errors import (
    MicroserviceDefinitionError,
    ResourceDependencyCycle,
    ResourceStartError,
    UnknownResourceDependency,
)
from tamarco.core.microservice import EXIT_FAILURE, Microservice, MicroserviceContext, task
from tamarco.resources.bases import BaseResource, StatusCodes


class Recorder(BaseResource):
    def __init__(self, journal, depends_on=(), fail_in=None):
        super().__init__()
        self.journal = journal
        self.depends_on = tuple(depends_on)
        self.fail_in = fail_in

    async def _record(self, stage):
        self.journal.append(f"{self.name}.{stage}")
        if self.fail_in == stage:
            raise RuntimeError(f"{self.name} broke in {stage}")

    async def pre_start(self):
        await self._record("pre_start")

    async def start(self):
        await self._record("start")
        await super().start()

    async def post_start(self):
        await self._record("post_start")

    async def stop(self):
        await self._record("stop")
        await super().stop()

    async def post_stop(self):
        await self._record("post_stop")


def make_service(journal, **resources):
    attrs = {"name": "svc", "use_default_resources": False, **resources}
    return type("Svc", (Microservice,), attrs)


async def run_briefly(service):
    runner = asyncio.create_task(service.run_until_stopped())
    for _ in range(200):
        if service.state in ("running", "stopping", "stopped"):
            break
        await asyncio.sleep(0.01)
    await service.stop_gracefully()
    return await asyncio.wait_for(runner, 10)


async def test_start_in_dependency_order_and_stop_in_reverse():
    journal = []
    cls = make_service(
        journal,
        status=Recorder(journal, depends_on=["report"]),
        amqp=Recorder(journal),
        report=Recorder(journal),
    )
    service = cls()
    assert service.resources_order == ["report", "status", "amqp"]
    assert await run_briefly(service) == 0
    order = ["report", "status", "amqp"]
    expected = (
        [f"{n}.pre_start" for n in order]
        + [f"{n}.start" for n in order]
        + [f"{n}.post_start" for n in order]
        + [f"{n}.stop" for n in reversed(order)]
        + [f"{n}.post_stop" for n in reversed(order)]
    )
    assert journal == expected
    assert all(r.status_code == StatusCodes.STOPPED for r in service.resources.values())


async def test_service_hooks_wrap_resource_hooks():
    journal = []

    class Svc(Microservice):
        name = "svc"
        use_default_resources = False
        db = Recorder(journal)

        async def start(self):
            journal.append("service.before_start")
            await super().start()
            journal.append("service.after_start")

        async def post_stop(self):
            journal.append("service.before_post_stop")
            await super().post_stop()

    await run_briefly(Svc())
    assert journal[journal.index("service.before_start") + 1] == "db.start"
    assert journal[journal.index("db.start") + 1] == "service.after_start"
    assert journal[-2:] == ["service.before_post_stop", "db.post_stop"]


async def test_resource_failing_in_start_is_failed_and_exit_code_non_zero():
    journal = []
    cls = make_service(journal, a=Recorder(journal), b=Recorder(journal, fail_in="start"), c=Recorder(journal))
    service = cls()
    transitions = []
    service.resources["b"].add_status_listener(lambda r, old, new: transitions.append(new))
    code = await asyncio.wait_for(service.run_until_stopped(), 10)
    assert code == EXIT_FAILURE
    assert transitions[0] == StatusCodes.FAILED
    assert "b broke in start" in service.resources["b"].last_error
    assert "c.start" not in journal
    # every resource whose start began is stopped, in reverse order
    assert journal[-6:] == ["c.stop", "b.stop", "a.stop", "c.post_stop", "b.post_stop", "a.post_stop"]


async def test_failure_handler_can_take_charge():
    journal = []
    cls = make_service(journal, a=Recorder(journal, fail_in="start"), b=Recorder(journal))
    service = cls()
    handled = []

    async def handler(resource, error):
        handled.append((resource.name, str(error)))
        return True

    service.hooks.on_start_failure(handler)
    assert await run_briefly(service) == 0
    assert handled == [("a", "a broke in start")]
    assert "b.start" in journal


async def test_context_raises_resource_start_error():
    journal = []

    class Ctx(MicroserviceContext):
        broken = Recorder(journal, fail_in="pre_start")

    with pytest.raises(ResourceStartError, match="'broken' failed in pre_start"):
        async with Ctx():
            pass
    assert "broken.post_stop" in journal


def test_missing_name_is_a_clear_error():
    class Nameless(Microservice):
        use_default_resources = False

    with pytest.raises(MicroserviceDefinitionError, match="Nameless has no name"):
        Nameless()


def test_dependency_errors_at_construction():
    journal = []
    with pytest.raises(ResourceDependencyCycle):
        make_service(journal, a=Recorder(journal, ["b"]), b=Recorder(journal, ["a"]))()
    with pytest.raises(UnknownResourceDependency, match="'a' depends on 'ghost'"):
        make_service(journal, a=Recorder(journal, ["ghost"]))()


def test_inherited_resources_and_none_removes():
    journal = []

    class Base(Microservice):
        name = "base"
        use_default_resources = False
        db = Recorder(journal)
        cache = Recorder(journal)

    class Child(Base):
        name = "child"
        cache = None
        queue = Recorder(journal)

    assert set(Child().resources) == {"db", "queue"}


def test_default_resources_from_entry_points(monkeypatch):
    class Ep:
        def __init__(self, name):
            self.name = name

        def load(self):
            return lambda: Recorder([])

    monkeypatch.setattr(
        default_resources, "default_resource_factories", lambda: {"metrics": Ep("metrics"), "status": Ep("status")}
    )

    mine = Recorder([])

    class Svc(Microservice):
        name = "svc"
        metrics = mine
        status = None

    service = Svc()
    assert service.resources == {"metrics": mine}
    other = type("Other", (Microservice,), {"name": "o"})()
    assert set(other.resources) == {"metrics", "status"}
    assert other.resources["metrics"] is not type("Other2", (Microservice,), {"name": "o2"})().resources["metrics"]


async def test_two_services_in_one_process_keep_separate_settings():
    class One(MicroserviceContext):
        name = "one"

    class Two(MicroserviceContext):
        name = "two"

    one, two = One(environ={}), Two(environ={})
    one.settings.update_internal({"system": {"deploy_name": "a"}})
    two.settings.update_internal({"system": {"deploy_name": "b"}})
    async with one, two:
        assert one.deploy_name == "a"
        assert two.deploy_name == "b"
        await one.settings.set("system.deploy_name", "c")
        assert await two.settings.get("system.deploy_name") == "b"
    assert one.instance_id != two.instance_id


async def test_resources_get_their_settings_view():
    class Res(BaseResource):
        async def start(self):
            self.port = await self.settings.get("port", expect=int)
            await super().start()

    class Ctx(MicroserviceContext):
        api = Res()

    ctx = Ctx(environ={})
    ctx.settings.update_internal({"system": {"resources": {"api": {"port": 8080}}}})
    async with ctx:
        assert ctx.api.port == 8080
        assert ctx.api.name == "api"
        assert ctx.api.microservice is ctx


async def test_live_settings_applied_and_others_logged():
    class Res(BaseResource):
        live_settings = ("rate",)

        def __init__(self):
            super().__init__()
            self.applied = []

        async def apply_settings(self, changes):
            self.applied.append(changes)

    class Ctx(MicroserviceContext):
        res = Res()

    async with Ctx(environ={}) as ctx:
        await ctx.settings.set("system.resources.res.rate", 5)
        await ctx.settings.set("system.resources.res.host", "x")
        assert ctx.res.applied == [{"rate": 5}]


async def test_logging_profile_applied_live():
    import logging

    class Ctx(MicroserviceContext):
        name = "live_logging"

    ctx = Ctx(environ={})
    ctx.settings.update_internal({"system": {"logging": {"profile": "PRODUCTION", "stdout": False}}})
    async with ctx:
        assert logging.getLogger("live_logging").level == logging.INFO
        await ctx.settings.set("system.logging.profile", "DEVELOP")
        assert logging.getLogger("live_logging").level == logging.DEBUG
        await ctx.settings.set("system.logging.profile", "NOPE")  # rejected, previous kept
        assert logging.getLogger("live_logging").level == logging.DEBUG


async def test_unknown_profile_fails_start_naming_setting():
    ctx = MicroserviceContext(environ={})
    ctx.settings.update_internal({"system": {"logging": {"profile": "debug"}}})
    with pytest.raises(ValueError, match=r"system.logging.profile .*DEVELOP, PRODUCTION"):
        await ctx.start()
    await ctx.stop()  # a failed start leaves the provisional logging attached until stopped


async def test_stop_gracefully_with_exit_code_from_a_task():
    class Svc(Microservice):
        name = "svc"
        use_default_resources = False

        @task
        async def fatal(self):
            await self.stop_gracefully(exit_code=7, reason="fatal condition")

    assert await asyncio.wait_for(Svc(environ={}).run_until_stopped(), 10) == 7


def test_run_coroutine_event_loop_choice():
    from tamarco.core.microservice import run_coroutine

    async def loop_kind():
        return 1 if "uvloop" in type(asyncio.get_running_loop()).__module__ else 0

    assert run_coroutine(loop_kind(), "asyncio") == 0
    if importlib.util.find_spec("uvloop") is not None:  # sanic brings it; tamarco-core alone does not
        assert run_coroutine(loop_kind(), "uvloop") == 1
    else:
        with pytest.raises(MicroserviceDefinitionError, match="uvloop is not installed"):
            run_coroutine(loop_kind(), "uvloop")
    with pytest.raises(MicroserviceDefinitionError, match="event_loop must be"):
        run_coroutine(loop_kind(), "trio")

"""``restart_resource``: a resource and its dependents, stopped then started again by core."""

import asyncio

import pytest
from tamarco.core.errors import ResourceRestartError, RestartCancelledError, UnknownResourceError
from tamarco.core.microservice import Microservice, MicroserviceContext
from tamarco.resources.bases import BaseResource, StatusCodes


class Recorder(BaseResource):
    def __init__(self, journal, depends_on=(), fail_in=None, connecting=False):
        super().__init__()
        self.journal = journal
        self.depends_on = tuple(depends_on)
        self.fail_in = fail_in
        self.connecting = connecting
        self.statuses = []
        self.add_status_listener(lambda resource, old, new: self.statuses.append(new))

    async def _record(self, stage):
        self.journal.append(f"{stage} {self.name}")
        if self.fail_in == stage:
            raise RuntimeError(f"{self.name} broke in {stage}")

    async def pre_start(self):
        await self._record("pre_start")

    async def start(self):
        await self._record("start")
        if self.connecting:
            self.set_status(StatusCodes.CONNECTING)
            return
        await super().start()

    async def post_start(self):
        await self._record("post_start")

    async def stop(self):
        await self._record("stop")
        await super().stop()

    async def post_stop(self):
        await self._record("post_stop")


def context(journal, **resources):
    return type("Ctx", (MicroserviceContext,), {"name": "restarts", **resources})(environ={})


async def test_restart_stops_dependents_in_reverse_and_starts_them_in_order():
    journal = []
    ctx = context(
        journal,
        a=Recorder(journal),
        b=Recorder(journal, depends_on=["a"]),
        c=Recorder(journal, depends_on=["b"]),
        other=Recorder(journal),
    )
    async with ctx:
        assert ctx.dependents("a") == ["b", "c"]
        journal.clear()
        for resource in ctx.resources.values():
            resource.statuses.clear()
        assert await ctx.restart_resource("a", timeout=5) == ["a", "b", "c"]
        assert journal == [
            "stop c",
            "stop b",
            "stop a",
            "pre_start a",
            "pre_start b",
            "pre_start c",
            "start a",
            "start b",
            "start c",
            "post_start a",
            "post_start b",
            "post_start c",
        ]
        for name in "abc":
            assert ctx.resources[name].statuses == [StatusCodes.STOPPING, StatusCodes.STOPPED, StatusCodes.STARTED]
        assert ctx.other.statuses == []
        assert ctx.restarting_resources == frozenset()


async def test_a_failing_stage_names_the_resource_and_stage_and_leaves_the_rest_stopped():
    journal = []
    ctx = context(journal, a=Recorder(journal), b=Recorder(journal, depends_on=["a"]))
    async with ctx:
        ctx.a.fail_in = "start"
        with pytest.raises(ResourceRestartError) as caught:
            await ctx.restart_resource("a", timeout=5)
        assert caught.value.resource == "a" and caught.value.stage == "start"
        assert "restart of resource 'a': resource 'a' failed in start: RuntimeError" in str(caught.value)
        assert ctx.a.status_code == StatusCodes.FAILED
        assert "a broke in start" in ctx.a.last_error
        assert ctx.b.status_code == StatusCodes.STOPPED
        ctx.a.fail_in = None
        await ctx.restart_resource("a", timeout=5)  # the next attempt recovers both
        assert (ctx.a.status_code, ctx.b.status_code) == (StatusCodes.STARTED, StatusCodes.STARTED)


async def test_a_resource_still_connecting_at_the_timeout_is_failed():
    journal = []
    ctx = context(journal, a=Recorder(journal))
    async with ctx:
        ctx.a.connecting = True
        with pytest.raises(ResourceRestartError, match=r"still CONNECTING 0\.05 s after the restart began"):
            await ctx.restart_resource("a", timeout=0.05)
        assert ctx.a.status_code == StatusCodes.FAILED


async def test_a_connecting_resource_that_connects_in_time_is_a_success():
    journal = []
    ctx = context(journal, a=Recorder(journal))
    async with ctx:
        ctx.a.connecting = True
        connecting = asyncio.Event()
        ctx.a.add_status_listener(lambda resource, old, new: new == StatusCodes.CONNECTING and connecting.set())
        restart = asyncio.create_task(ctx.restart_resource("a", timeout=5))
        await asyncio.wait_for(connecting.wait(), 5)
        ctx.a.set_status(StatusCodes.STARTED)
        assert await restart == ["a"]


class Hanging(BaseResource):
    def __init__(self):
        super().__init__()
        self.hang = False
        self.entered = asyncio.Event()

    async def start(self):
        if self.hang:
            self.entered.set()
            await asyncio.Event().wait()
        await super().start()


async def test_a_hanging_start_times_out_naming_the_stage():
    ctx = context([], a=Hanging())
    async with ctx:
        ctx.a.hang = True
        with pytest.raises(ResourceRestartError, match="'a' failed in start: TimeoutError: start did not finish"):
            await ctx.restart_resource("a", timeout=0.05)
        assert ctx.a.status_code == StatusCodes.FAILED


async def test_a_stop_cancels_a_restart_in_progress():
    ctx = context([], a=Hanging())
    await ctx.start()
    ctx.a.hang = True
    restart = asyncio.create_task(ctx.restart_resource("a", timeout=30))
    await asyncio.wait_for(ctx.a.entered.wait(), 5)
    assert ctx.restarting_resources == {"a"}
    await ctx.stop()
    with pytest.raises(RestartCancelledError, match="cancelled during restart: start of resource a"):
        await restart
    assert ctx.a.status_code == StatusCodes.STOPPED


async def test_no_restart_once_stopped_and_unknown_names_are_errors():
    ctx = context([], a=Recorder([]))
    with pytest.raises(UnknownResourceError, match="'ghost' is not a resource of this service"):
        await ctx.restart_resource("ghost")
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        await ctx.restart_resource("a", timeout=0)
    async with ctx:
        pass
    with pytest.raises(RestartCancelledError, match="the service is stopped"):
        await ctx.restart_resource("a")


class SlowPostStart(BaseResource):
    def __init__(self):
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def post_start(self):
        self.entered.set()
        await self.release.wait()


async def test_a_restart_waits_for_the_service_start_to_end():
    journal = []
    cls = type(
        "Svc",
        (Microservice,),
        {"name": "waits", "use_default_resources": False, "a": Recorder(journal), "slow": SlowPostStart()},
    )
    service = cls(environ={})
    runner = asyncio.create_task(service.run_until_stopped())
    try:
        await asyncio.wait_for(service.slow.entered.wait(), 5)
        restart = asyncio.create_task(service.restart_resource("a", timeout=5))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not restart.done() and "stop a" not in journal
        service.slow.release.set()
        assert await asyncio.wait_for(restart, 5) == ["a"]
        assert journal.index("stop a") > journal.index("post_start a")
    finally:
        service.slow.release.set()
        await service.stop_gracefully()
        assert await asyncio.wait_for(runner, 10) == 0


async def test_a_restart_waiting_for_the_start_is_cancelled_when_the_start_fails():
    journal = []
    cls = type(
        "Svc",
        (Microservice,),
        {
            "name": "fails",
            "use_default_resources": False,
            "slow": SlowPostStart(),
            "a": Recorder(journal, depends_on=["slow"], fail_in="post_start"),
        },
    )
    service = cls(environ={})
    runner = asyncio.create_task(service.run_until_stopped())
    await asyncio.wait_for(service.slow.entered.wait(), 5)
    restart = asyncio.create_task(service.restart_resource("a", timeout=5))
    await asyncio.sleep(0)
    service.slow.release.set()
    assert await asyncio.wait_for(runner, 10) == 1
    with pytest.raises(RestartCancelledError):
        await asyncio.wait_for(restart, 5)

"""The order of every lifecycle step, as a service really runs it, against the documented one.

The module docstring of ``tamarco.core.microservice`` numbers the steps; ``LIFECYCLE_ORDER``
lists them; a running service records what it does (settings, logging, each resource's
methods, tasks, hooks). All three must agree.
"""

import asyncio
import re

import pytest
from tamarco.core import microservice as microservice_module
from tamarco.core.lifecycle import (
    LIFECYCLE_ORDER,
    RESOURCE_STAGES,
    REVERSE_STAGES,
    LifecycleHooks,
    LifecycleStage,
    ServiceState,
    StageInProgress,
)
from tamarco.core.microservice import Microservice, MicroserviceContext
from tamarco.resources.bases import BaseResource, StatusCodes

#: The methods of a resource that each per-resource stage calls.
RESOURCE_METHODS = {
    LifecycleStage.BIND: ("bind", "configure_settings"),
    LifecycleStage.SETTINGS_CHECK: ("check_settings",),
    LifecycleStage.PRE_START: ("pre_start",),
    LifecycleStage.START: ("start",),
    LifecycleStage.POST_START: ("post_start",),
    LifecycleStage.STOP: ("stop",),
    LifecycleStage.POST_STOP: ("post_stop",),
}


class Recorder(BaseResource):
    def __init__(self, journal, depends_on=()):
        super().__init__()
        self.journal = journal
        self.depends_on = tuple(depends_on)

    async def bind(self, microservice, name):
        await super().bind(microservice, name)
        self.journal.append(f"{name}.bind")

    async def configure_settings(self, settings):
        await super().configure_settings(settings)
        self.journal.append(f"{self.name}.configure_settings")

    async def check_settings(self):
        self.journal.append(f"{self.name}.check_settings")

    async def pre_start(self):
        self.journal.append(f"{self.name}.pre_start")

    async def start(self):
        self.journal.append(f"{self.name}.start")
        await super().start()

    async def post_start(self):
        self.journal.append(f"{self.name}.post_start")

    async def stop(self):
        self.journal.append(f"{self.name}.stop")
        await super().stop()

    async def post_stop(self):
        self.journal.append(f"{self.name}.post_stop")


def expected_journal(order):
    """``LIFECYCLE_ORDER`` expanded: a per-resource stage becomes one entry per resource."""
    journal = []
    for stage in LIFECYCLE_ORDER:
        if stage in RESOURCE_STAGES:
            names = list(reversed(order)) if stage in REVERSE_STAGES else list(order)
            for name in names:
                journal.extend(f"{name}.{method}" for method in RESOURCE_METHODS[stage])
        else:
            journal.append(stage.value)
    return journal


def record_service_steps(service, journal):
    """Record the real calls the service makes to its settings, logging, tasks and hooks."""

    def wrap(owner, attribute, label):
        original = getattr(owner, attribute)
        if asyncio.iscoroutinefunction(original):

            async def recorded(*args, **kwargs):
                journal.append(label)
                return await original(*args, **kwargs)

        else:

            def recorded(*args, **kwargs):
                journal.append(label)
                return original(*args, **kwargs)

        setattr(owner, attribute, recorded)

    wrap(service.logging, "configure_provisional", LifecycleStage.PROVISIONAL_LOGGING.value)
    wrap(service.settings, "start", LifecycleStage.SETTINGS_START.value)
    wrap(service.logging, "start", LifecycleStage.LOGGING_START.value)
    wrap(service.tasks, "start", LifecycleStage.TASKS_START.value)
    wrap(service, "_cancel_restarts", LifecycleStage.RESTARTS_CANCEL.value)
    wrap(service.tasks, "stop", LifecycleStage.TASKS_STOP.value)
    wrap(service.settings, "stop", LifecycleStage.SETTINGS_STOP.value)
    wrap(service.logging, "stop", LifecycleStage.LOGGING_STOP.value)

    async def running():
        journal.append(LifecycleStage.RUNNING_HOOKS.value)

    async def stopping():
        journal.append(LifecycleStage.STOPPING_HOOKS.value)

    service.hooks.on_running(running)
    service.hooks.on_stopping(stopping)


def make_service_class(journal, base=Microservice):
    return type(
        "Ordered",
        (base,),
        {
            "name": "ordered",
            "use_default_resources": False,
            "web": Recorder(journal, depends_on=["db"]),
            "cache": Recorder(journal),
            "db": Recorder(journal),
        },
    )


def documented_steps():
    doc = microservice_module.__doc__
    return re.findall(r"(?m)(?:^|\s)\d+\. ``([^`]+)``", doc)


def test_the_docstring_states_lifecycle_order():
    assert documented_steps() == [stage.value for stage in LIFECYCLE_ORDER]


def test_every_stage_is_in_the_order_once():
    assert sorted(LIFECYCLE_ORDER) == sorted(LifecycleStage)
    assert len(set(LIFECYCLE_ORDER)) == len(LIFECYCLE_ORDER)


async def test_a_service_runs_the_documented_order():
    journal = []
    service = make_service_class(journal)(environ={})
    record_service_steps(service, journal)
    states = []
    runner = asyncio.create_task(service.run_until_stopped())

    async def stop_when_running():
        states.append(service.state)
        await service.stop_gracefully()

    service.hooks.on_running(stop_when_running)
    assert await asyncio.wait_for(runner, 10) == 0
    assert service.resources_order == ["db", "web", "cache"]
    assert journal == expected_journal(service.resources_order)
    assert states == [ServiceState.RUNNING]
    assert service.state is ServiceState.STOPPED and service.state == "stopped"


async def test_a_context_runs_the_documented_order():
    journal = []
    ctx = make_service_class(journal, MicroserviceContext)(environ={})
    record_service_steps(ctx, journal)
    async with ctx:
        assert ctx.state == "running"
    assert journal == expected_journal(ctx.resources_order)


def test_state_and_stage_read_as_text():
    assert ServiceState.RUNNING == "running" and f"{ServiceState.RUNNING}" == "running"
    assert str(StageInProgress(LifecycleStage.STOP, "db")) == "stop of resource db"
    assert str(StageInProgress(LifecycleStage.STOPPING_HOOKS)) == "stopping hooks"
    assert str(StageInProgress(LifecycleStage.START, "db", restart=True)) == "restart: start of resource db"


class StuckStop(BaseResource):
    def __init__(self):
        super().__init__()
        self.stopping = asyncio.Event()

    async def stop(self):
        self.stopping.set()
        await asyncio.Event().wait()


async def test_current_stage_names_the_step_a_stop_hangs_in():
    class Svc(MicroserviceContext):
        name = "stuck"
        db = StuckStop()

    ctx = Svc(environ={})
    await ctx.start()
    stopping = asyncio.create_task(ctx._stop_all())
    await asyncio.wait_for(ctx.db.stopping.wait(), 5)
    assert ctx.current_stage == StageInProgress(LifecycleStage.STOP, "db")
    assert ctx.state is ServiceState.STOPPING
    stopping.cancel()
    await asyncio.gather(stopping, return_exceptions=True)
    await ctx.logging.stop()


# -- hooks -----------------------------------------------------------------------------------


async def test_hooks_order_removal_and_failures_are_isolated(caplog):
    import logging

    hooks = LifecycleHooks(logging.getLogger("test.hooks"))
    calls = []

    def recorder(label, fail=False):
        async def hook():
            calls.append(label)
            if fail:
                raise RuntimeError(f"{label} broke")

        return hook

    hooks.on_running(recorder("r1", fail=True))
    removed = hooks.on_running(recorder("gone"))
    hooks.on_running(recorder("r2"))
    hooks.on_stopping(recorder("s1"))
    hooks.on_stopping(recorder("s2", fail=True))
    removed.remove()
    removed.remove()  # again: no-op
    assert not removed.active
    with caplog.at_level(logging.ERROR, logger="test.hooks"):
        await hooks.run_running()
        await hooks.run_stopping()
    assert calls == ["r1", "r2", "s2", "s1"]  # stopping hooks: reverse registration order
    assert "running hook" in caplog.text and "r1 broke" in caplog.text
    assert "stopping hook" in caplog.text and "s2 broke" in caplog.text


async def test_start_failure_hooks_all_run_and_a_failing_one_does_not_take_charge():
    import logging

    hooks = LifecycleHooks(logging.getLogger("test.hooks"))
    seen = []

    async def broken(resource, error):
        seen.append("broken")
        raise RuntimeError("hook broke")

    async def declines(resource, error):
        seen.append("declines")
        return False

    hooks.on_start_failure(broken)
    handle = hooks.on_start_failure(declines)
    assert await hooks.run_start_failure(BaseResource(), RuntimeError("x")) is False

    async def takes_charge(resource, error):
        seen.append("takes")
        return True

    hooks.on_start_failure(takes_charge)
    assert await hooks.run_start_failure(BaseResource(), RuntimeError("x")) is True
    assert seen == ["broken", "declines", "broken", "declines", "takes"]
    handle.remove()
    assert hooks.registered("start_failure") == [broken, takes_charge]
    with pytest.raises(ValueError, match="unknown hook kind 'nope'"):
        hooks.registered("nope")
    with pytest.raises(TypeError, match="must be callable"):
        hooks.on_running("not a function")


async def test_resource_status_hooks_see_every_resource_while_the_service_runs():
    journal = []
    ctx = make_service_class(journal, MicroserviceContext)(environ={})
    changes = []
    ctx.hooks.on_resource_status(lambda resource, old, new: changes.append((resource.name, new)))
    async with ctx:
        ctx.db.set_status(StatusCodes.FAILED, "pretend")
    assert ("db", StatusCodes.STARTED) in changes
    assert ("db", StatusCodes.FAILED) in changes
    assert changes[-1] == ("web", StatusCodes.STOPPED) or ("web", StatusCodes.STOPPED) in changes
    count = len(changes)
    ctx.db.set_status(StatusCodes.STARTED)  # the service stopped: no longer listened to
    assert len(changes) == count


async def test_a_failing_running_hook_does_not_fail_the_start():
    journal = []
    ctx = make_service_class(journal, MicroserviceContext)(environ={})
    after = []

    async def broken():
        raise RuntimeError("hook broke")

    async def fine():
        after.append("ran")

    ctx.hooks.on_running(broken)
    ctx.hooks.on_running(fine)
    async with ctx:
        assert ctx.state is ServiceState.RUNNING
    assert after == ["ran"]

import asyncio
import itertools
import threading

import pytest
from tamarco.core.microservice import MicroserviceContext, task, task_timer, thread


def test_decorators_reject_wrong_kinds():
    with pytest.raises(TypeError, match="@task needs an async function"):
        task(lambda self: None)
    with pytest.raises(TypeError, match="@task_timer needs an async function"):
        task_timer()(lambda self: None)

    async def coroutine(self):
        pass

    with pytest.raises(TypeError, match="@thread needs a regular function"):
        thread(coroutine)
    with pytest.raises(ValueError, match="positive"):
        task_timer(interval=0)


async def test_named_task_and_failing_task_does_not_stop_others():
    ran = asyncio.Event()

    class Ctx(MicroserviceContext):
        @task("custom_name")
        async def named(self):
            await asyncio.sleep(3600)

        @task
        async def broken(self):
            raise RuntimeError("task failure")

        @task
        async def healthy(self):
            await asyncio.sleep(0.05)
            ran.set()
            await asyncio.sleep(3600)

    async with Ctx(environ={}) as ctx:
        assert set(ctx.tasks.tasks) == {"custom_name", "broken", "healthy"}
        await asyncio.wait_for(ran.wait(), 5)
        assert ctx.tasks.tasks["broken"].done()
        assert not ctx.tasks.tasks["healthy"].done()
        held = dict(ctx.tasks.tasks)
    assert all(t.cancelled() or t.done() for t in held.values())


async def test_timer_period_start_to_start_and_errors_keep_it_going():
    loop = asyncio.get_running_loop()

    class Ctx(MicroserviceContext):
        starts: list = []

        @task_timer(interval=100)
        async def tick(self):
            self.starts.append(loop.time())
            await asyncio.sleep(0.04)  # run time must not add to the period
            if len(self.starts) == 2:
                raise RuntimeError("one failing run")

    ctx = Ctx(environ={})
    begin = loop.time()
    await ctx.start()
    try:
        for _ in range(300):
            if len(ctx.starts) >= 5:
                break
            await asyncio.sleep(0.01)
    finally:
        await ctx.stop()
    starts = ctx.starts
    assert len(starts) >= 5
    assert starts[0] - begin >= 0.095  # first run one interval after start
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(0.08 <= gap <= 0.2 for gap in gaps), gaps
    # no drift: the 5th start is about 4 periods after the 1st, not 4 * (period + run time)
    assert starts[4] - starts[0] < 0.4 + 4 * 0.04


async def test_timer_autostart_and_one_shot():
    loop = asyncio.get_running_loop()

    class Ctx(MicroserviceContext):
        runs: list = []

        @task_timer(interval=50, one_shot=True, autostart=True)
        async def once(self):
            self.runs.append(loop.time())

    ctx = Ctx(environ={})
    begin = loop.time()
    await ctx.start()
    await asyncio.sleep(0.2)
    await ctx.stop()
    assert len(ctx.runs) == 1
    assert ctx.runs[0] - begin < 0.04


async def test_thread_observes_stop_event():
    started = threading.Event()

    class Ctx(MicroserviceContext):
        finished = False

        @thread
        def worker(self, stop_event):
            started.set()
            while not stop_event.wait(0.01):
                pass
            type(self).finished = True

    ctx = Ctx(environ={})
    await ctx.start()
    assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
    await ctx.stop()
    assert Ctx.finished is True
    assert ctx.tasks.threads == {}


async def test_the_report_tells_what_each_task_and_thread_is_doing():
    failed = asyncio.Event()

    class Ctx(MicroserviceContext):
        @task
        async def forever(self):
            await asyncio.sleep(3600)

        @task
        async def done(self):
            return None

        @task
        async def dies(self):
            failed.set()
            raise KeyError("id")

        @task_timer(interval=10, autostart=True)
        async def flaky(self):
            raise ValueError("one bad run")

        @thread
        def worker(self, stop_event):
            stop_event.wait()

    async with Ctx(environ={}) as ctx:
        await asyncio.wait_for(failed.wait(), 5)
        await asyncio.sleep(0.05)
        added = ctx.add_task("added", asyncio.sleep(3600))
        report = ctx.tasks.report()
        assert {name: info["state"] for name, info in report.items()} == {
            "forever": "running",
            "done": "finished",
            "dies": "failed",
            "flaky": "running",
            "worker": "running",
            "added": "running",
        }
        assert report["dies"]["error"] == "KeyError: 'id'" and report["dies"]["kind"] == "task"
        assert report["flaky"]["kind"] == "timer" and report["flaky"]["failed_runs"] >= 1
        assert report["worker"]["kind"] == "thread"
        assert ctx.tasks.failed() == {"dies": "KeyError: 'id'"}
    assert added.done()
    final = ctx.tasks.report()
    assert final["forever"]["state"] == final["worker"]["state"] == final["added"]["state"] == "stopped"


async def test_a_0_1_style_thread_sees_its_stop_attribute():
    seen = []

    class Ctx(MicroserviceContext):
        @thread
        def old_style(self):
            seen.append(threading.current_thread().stop)
            while not threading.current_thread().stop:
                threading.Event().wait(0.01)
            seen.append(threading.current_thread().stop)

    async with Ctx(environ={}):
        await asyncio.sleep(0.05)
    assert seen == [False, True]

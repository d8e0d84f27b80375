"""Timers (sync, async, context manager, decorator), call counting and count_exceptions."""

from __future__ import annotations

import asyncio

import pytest
from tamarco.resources.basic.metrics import Counter, ExceptionMonitor, Gauge, MeterScope, Summary, Timer, meter_scope


class StepClock:
    """A clock that advances by a fixed step on every read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_timer_as_context_manager() -> None:
    measured: list[float] = []
    timer = Timer(measured.append, clock=StepClock(0.25))
    with timer as entered:
        assert entered is timer
    assert measured == [0.25]
    assert timer.elapsed == 0.25


def test_timer_nested_reuse_keeps_each_start() -> None:
    measured: list[float] = []
    timer = Timer(measured.append, clock=StepClock(1.0))
    with timer:  # start 1
        with timer:  # start 2
            pass  # end 3
        # end 4
    assert measured == [1.0, 3.0]


def test_timer_as_decorator_of_a_function() -> None:
    measured: list[float] = []

    @Timer(measured.append, clock=StepClock(0.5))
    def work(value: int) -> int:
        return value * 2

    assert work(21) == 42
    assert work.__name__ == "work"
    assert measured == [0.5]


def test_timer_records_even_when_the_call_raises() -> None:
    measured: list[float] = []

    @Timer(measured.append, clock=StepClock(0.5))
    def broken() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        broken()
    assert measured == [0.5]


async def test_timer_as_decorator_of_a_coroutine_function_measures_the_await() -> None:
    measured: list[float] = []
    release = asyncio.Event()

    @Timer(measured.append)
    async def handler() -> str:
        await release.wait()
        return "done"

    task = asyncio.create_task(handler())
    await asyncio.sleep(0.05)
    assert measured == []  # still running
    release.set()
    assert await task == "done"
    assert len(measured) == 1 and measured[0] >= 0.04


async def test_one_timer_used_by_concurrent_coroutines() -> None:
    measured: list[float] = []
    timer = Timer(measured.append)
    gates = [asyncio.Event(), asyncio.Event()]

    async def timed(gate: asyncio.Event) -> None:
        async with timer:
            await gate.wait()

    first = asyncio.create_task(timed(gates[0]))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(timed(gates[1]))
    await asyncio.sleep(0)
    gates[1].set()
    await second
    gates[0].set()
    await first
    # the second (short) one finished first; each measured its own start
    assert len(measured) == 2
    assert measured[0] < 0.04 <= measured[1]


def test_summary_timeit_context_manager_and_decorator(scope: MeterScope) -> None:
    summary = Summary("http_requests_processing_time", "time")

    @summary.timeit()
    def http_handler() -> str:
        return "ok"

    assert http_handler() == "ok"
    with summary.timeit():
        pass
    assert summary.count == 2
    assert summary.sum >= 0


async def test_summary_timeit_async(scope: MeterScope) -> None:
    with meter_scope(scope):
        summary = Summary("async_processing_time", "seconds")

    @summary.timeit()
    async def handler() -> None:
        await asyncio.sleep(0.02)

    await handler()
    async with summary.timeit():
        await asyncio.sleep(0.02)
    assert summary.count == 2
    assert summary.sum >= 0.04


def test_gauge_timeit_sets_the_last_duration(scope: MeterScope) -> None:
    gauge = Gauge("my_task_processing_time", "time", start_value=-1)
    timer = gauge.timeit()
    timer.clock = StepClock(2.0)
    with timer:
        pass
    assert gauge.value == 2.0


async def test_counter_as_decorator_of_functions_and_coroutines(scope: MeterScope) -> None:
    with meter_scope(scope):
        meows = Counter("meows", "sounds")
        jumps = Counter("jumps", "actions")

    class Cat:
        @meows
        def meow(self) -> str:
            return "meow"

        @jumps
        async def jump(self) -> str:
            return "jump"

    cat = Cat()
    assert cat.meow() == "meow"
    assert cat.meow() == "meow"
    coroutine = cat.jump()
    assert jumps.value == 0  # counted when it runs, not when created
    assert await coroutine == "jump"
    assert (meows.value, jumps.value) == (2, 1)


async def test_gauge_as_decorator_counts_up(scope: MeterScope) -> None:
    with meter_scope(scope):
        connections = Gauge("websocket_connections", "connections")

    class WebSocketServer:
        @connections
        def on_open(self) -> None: ...

        @connections
        async def on_open_async(self) -> None: ...

        def on_close(self) -> None:
            connections.dec()

    server = WebSocketServer()
    server.on_open()
    await server.on_open_async()
    server.on_close()
    assert connections.value == 1


async def test_count_exceptions_everywhere(scope: MeterScope) -> None:
    with meter_scope(scope):
        errors = Counter("http_errors", "errors")
    monitor = errors.count_exceptions()
    assert isinstance(monitor, ExceptionMonitor)

    with pytest.raises(ValueError):
        with errors.count_exceptions():
            raise ValueError("sync block")
    with errors.count_exceptions():
        pass  # no exception: not counted

    @errors.count_exceptions()
    def sync_handler(fail: bool) -> str:
        if fail:
            raise RuntimeError("sync call")
        return "ok"

    @errors.count_exceptions()
    async def async_handler(fail: bool) -> str:
        await asyncio.sleep(0)
        if fail:
            raise RuntimeError("async call")
        return "ok"

    assert sync_handler(False) == "ok"
    with pytest.raises(RuntimeError):
        sync_handler(True)
    assert await async_handler(False) == "ok"
    with pytest.raises(RuntimeError):
        await async_handler(True)
    with pytest.raises(KeyError):
        async with errors.count_exceptions():
            raise KeyError("async block")
    assert errors.value == 4


def test_count_exceptions_of_one_type(scope: MeterScope) -> None:
    timeouts = Counter("timeouts", "errors")
    with pytest.raises(ValueError):
        with timeouts.count_exceptions(TimeoutError):
            raise ValueError("not a timeout")
    with pytest.raises(TimeoutError):
        with timeouts.count_exceptions(TimeoutError):
            raise TimeoutError
    assert timeouts.value == 1

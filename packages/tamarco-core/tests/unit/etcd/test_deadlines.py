"""Deadlines, retries and backoff of etcd calls: nothing waits forever, a cancellation is never
swallowed, errors name the address and never the password. No etcd needed."""

import asyncio
import contextlib
import time

import aetcd.exceptions
import pytest
from tamarco.core.etcd import (
    Backoff,
    EtcdCheckKeyTimeout,
    EtcdConnectionConfig,
    EtcdUnavailableError,
    close_quietly,
    request,
    request_bound,
    retry_until,
    within,
)
from tamarco.core.logging.testing import capture_logs


async def test_within_never_swallows_a_cancellation():
    """``within`` (every bounded wait in the backend) re-raises a cancellation that arrives as
    the awaited thing completes, where 3.11's ``asyncio.wait_for`` returns its result."""
    ready = asyncio.Event()
    outcome = []

    async def waiter():
        try:
            outcome.append(await within(ready.wait(), 5))
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    task = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)
    ready.set()
    task.cancel()
    await asyncio.wait({task}, timeout=1)
    assert outcome == ["cancelled"] and task.cancelled()
    with pytest.raises(asyncio.TimeoutError):
        await within(asyncio.sleep(5), 0.05)


async def test_retry_until_backs_off_logs_once_and_names_the_address():
    config = EtcdConnectionConfig(host="10.1.2.3", port=2999, user="u", password="hidden-pw")
    attempts = []

    async def failing():
        attempts.append(asyncio.get_running_loop().time())
        raise aetcd.exceptions.ConnectionFailedError("connection refused")

    with capture_logs() as logs, pytest.raises(EtcdUnavailableError) as info:
        await retry_until(failing, config=config, timeout=0.5, what="reading")
    assert "10.1.2.3:2999" in str(info.value) and "hidden-pw" not in str(info.value)
    assert 3 <= len(attempts) <= 6  # 0.1, 0.2, 0.4 s... not a busy loop
    assert len(logs.filter(contains="not reachable yet")) == 1


async def test_retry_until_returns_once_etcd_answers_and_does_not_retry_its_own_errors():
    config = EtcdConnectionConfig(host="h")
    results = iter([aetcd.exceptions.ConnectionTimeoutError("slow"), "tree"])

    async def flaky():
        result = next(results)
        if isinstance(result, Exception):
            raise result
        return result

    assert await retry_until(flaky, config=config, timeout=5, what="reading") == "tree"
    calls = []

    async def timing_out():
        calls.append(1)
        raise EtcdCheckKeyTimeout("etcd key /etcd_ready did not appear")

    with pytest.raises(EtcdCheckKeyTimeout):
        await retry_until(timing_out, config=config, timeout=5, what="waiting")
    assert calls == [1]


async def test_within_ends_on_time_even_if_the_awaitable_ignores_its_cancellation():
    """The bounded wait holds when the awaited call swallows a cancellation (what
    ``asyncio.wait_for`` and ``asyncio.timeout`` would wait for)."""
    release = asyncio.Event()

    async def stubborn():
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()
        return "late"

    discarded = []

    async def discard(value):
        discarded.append(value)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await within(stubborn(), 0.1, discard)
    assert time.monotonic() - started < 1
    release.set()
    for _ in range(100):  # the late result goes to ``discard`` (a watch nobody reads, cancelled)
        if discarded:
            break
        await asyncio.sleep(0.01)
    assert discarded == ["late"]


def test_backoff_doubles_up_to_its_maximum_and_resets():
    backoff = Backoff()
    assert [backoff.next_delay() for _ in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.1


async def test_backoff_sleep_never_passes_the_limit():
    backoff = Backoff(first=5.0, maximum=5.0)
    started = time.monotonic()
    await backoff.sleep(0.05)
    assert time.monotonic() - started < 1


async def test_a_request_to_a_server_that_never_answers_fails_in_time_naming_the_address(silent_port):
    port = silent_port
    config = EtcdConnectionConfig(host="127.0.0.1", port=port, user="root", password="never-shown", request_timeout=0.3)
    client = config.client()
    started = time.monotonic()
    try:
        with pytest.raises(aetcd.exceptions.ClientError) as error:
            await request(client.get(b"/system/a"), config, "reading /system/a")
    finally:
        await close_quietly(client)
    assert time.monotonic() - started < request_bound(config) + 0.5
    assert "never-shown" not in str(error.value)

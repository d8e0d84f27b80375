"""Against the harness's etcd: when etcd goes away mid-operation, requests fail within
``TAMARCO_ETCD_TIMEOUT`` naming the address and ``stop()`` returns promptly."""

import asyncio
import time

import pytest
from tamarco.core.etcd import request_bound
from tamarco.core.settings import Settings
from tamarco.core.settings.backends.etcd import EtcdSettingsBackend, EtcdUnavailableError

pytestmark = pytest.mark.functional


async def ends_within(awaitable, seconds):
    task = asyncio.ensure_future(awaitable)
    started = time.monotonic()
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        pytest.fail(f"still waiting after {seconds} s")
    return task, time.monotonic() - started


async def test_writes_fail_in_time_and_stop_returns_promptly_when_etcd_stops_mid_operation(
    etcd_env, etcd_service, eventually
):
    settings = Settings("dog", environ={**etcd_env, "TAMARCO_ETCD_TIMEOUT": "1"})
    await settings.start()
    backend = settings.backend
    assert isinstance(backend, EtcdSettingsBackend)
    bound = request_bound(backend.config)
    try:
        await eventually(backend.watching.is_set, 2, "watch established")
        writes = [asyncio.ensure_future(settings.set(f"system.w{i}", i)) for i in range(5)]
        await asyncio.sleep(0)  # the writes are on their way...
        await asyncio.to_thread(etcd_service.stop)  # ...as etcd goes away
        writes.append(asyncio.ensure_future(settings.set("system.after", 1)))
        task, elapsed = await ends_within(asyncio.gather(*writes, return_exceptions=True), bound + 2)
        failures = [result for result in task.result() if result is not None]
        assert failures, "etcd was stopped: some write must have failed"
        for failure in failures:
            assert isinstance(failure, EtcdUnavailableError), failure
            assert etcd_service.url.split("//")[1] in str(failure)
        task, elapsed = await ends_within(settings.stop(), 3)
        task.result()
        assert elapsed < 2
    finally:
        await ends_within(settings.stop(), 5)
        await asyncio.to_thread(etcd_service.start)

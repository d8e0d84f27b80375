"""Fixtures for the etcd settings tests: the harness etcd, one key namespace per test."""

import asyncio
import json
import time

import pytest


@pytest.fixture
def etcd_env(etcd_service, etcd_prefix):
    """The environment a service uses to read its settings from this test's namespace."""
    return {
        **etcd_service.env(),
        "TAMARCO_ETCD_PREFIX": etcd_prefix,
        "TAMARCO_ETCD_STARTUP_TIMEOUT": "10",
    }


@pytest.fixture
def put_json(etcd_service, etcd_prefix):
    """Seed a value the way any etcd client would: ``put_json("system/a/b", 1)``."""

    def put(path, value):
        etcd_service.put(etcd_prefix.rstrip("/") + "/" + path.strip("/"), json.dumps(value))

    return put


@pytest.fixture
def put_raw(etcd_service, etcd_prefix):
    def put(path, raw):
        etcd_service.put(etcd_prefix.rstrip("/") + "/" + path.strip("/"), raw)

    return put


@pytest.fixture
def eventually():
    """``await eventually(predicate, timeout, what)``: poll until true, fail after ``timeout``."""

    async def wait(predicate, timeout=5.0, what="condition"):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not true within {timeout} s")
            await asyncio.sleep(0.02)

    return wait


class Changes:
    """A settings watch callback that queues ``(key, value)`` so tests can await each one."""

    def __init__(self):
        self.queue = asyncio.Queue()

    def __call__(self, key, value):
        self.queue.put_nowait((key, value))

    async def next(self, timeout=1.0):
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def until(self, wanted, timeout=5.0):
        """Changes received until ``wanted`` (a ``(key, value)``) arrives, inclusive."""
        seen = []
        deadline = asyncio.get_running_loop().time() + timeout
        while wanted not in seen:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                seen.append(await asyncio.wait_for(self.queue.get(), max(remaining, 0)))
            except TimeoutError:
                raise AssertionError(f"{wanted} not received within {timeout} s; got {seen}") from None
        return seen


@pytest.fixture
def changes():
    return Changes()

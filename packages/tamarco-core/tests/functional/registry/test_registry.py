"""The Registry resource against the harness's etcd: register, keep alive, deregister, expire."""

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import BaseResource
from tamarco.resources.basic.registry import Registry, RegistryError

pytestmark = pytest.mark.functional

SERVICE = Path(__file__).parent / "services" / "registered_service.py"
TTL = 2


@pytest.fixture
def etcd_env(etcd_service, etcd_prefix):
    return {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix, "TAMARCO_ETCD_STARTUP_TIMEOUT": "10"}


@pytest.fixture
def put_json(etcd_service, etcd_prefix):
    def put(path, value):
        etcd_service.put(etcd_prefix + path.strip("/"), json.dumps(value))

    return put


class Observer(MicroserviceContext):
    """Another service that only looks at the registry (its own registration disabled)."""

    name = "observer"
    registry = Registry()


class Snapshots:
    """A registry watch callback: each call's instance list, in a queue."""

    def __init__(self):
        self.queue = asyncio.Queue()

    def __call__(self, instances):
        self.queue.put_nowait(instances)

    async def until(self, predicate, timeout=5.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                instances = await asyncio.wait_for(self.queue.get(), max(remaining, 0))
            except TimeoutError:
                raise AssertionError(f"registry never matched within {timeout} s") from None
            if predicate(instances):
                return instances


class StopProbe(BaseResource):
    """Records what the registry shows while this resource stops (after the registry hook)."""

    def __init__(self, observer_registry):
        super().__init__()
        self.observer_registry = observer_registry
        self.instances_at_stop = None

    async def stop(self):
        self.instances_at_stop = await self.observer_registry.instances("registered")
        await super().stop()


async def test_register_keepalive_and_deregister_first(etcd_env, put_json, etcd_service, etcd_prefix):
    put_json("system/microservices/registered/resources/registry/enabled", True)
    put_json("system/resources/registry/ttl_seconds", TTL)
    put_json("system/resources/registry/port", 8080)
    put_json("system/resources/registry/metadata", {"zone": "a", "weight": 3})
    async with Observer(environ=etcd_env) as observer:
        assert observer.registry.enabled is False
        snapshots = Snapshots()
        watch = await observer.registry.watch("registered", snapshots)
        assert await snapshots.until(lambda instances: instances == []) == []

        class Registered(MicroserviceContext):
            name = "registered"
            registry = Registry()
            probe = StopProbe(observer.registry)

        service = Registered(environ=etcd_env)
        await service.start()
        try:
            await service.registry.wait_registered(5)
            [instance] = await snapshots.until(lambda instances: len(instances) == 1)
            assert instance.instance_id == service.instance_id
            assert instance.service == "registered"
            assert instance.port == 8080 and instance.address.endswith(":8080")
            assert instance.metadata == {"zone": "a", "weight": 3}
            assert instance.data["pid"] == os.getpid()
            key = f"{etcd_prefix}discovery/registered/{service.instance_id}"
            assert etcd_service.get(key) is not None

            # Kept alive: still there well past its TTL.
            await asyncio.sleep(TTL * 1.75)
            assert [i.instance_id for i in await observer.registry.instances("registered")] == [service.instance_id]
            assert snapshots.queue.empty()
        finally:
            await service.stop()
        # Deregistered first: gone before the other resources began to stop.
        assert service.probe.instances_at_stop == []
        assert await snapshots.until(lambda instances: instances == [], timeout=1) == []
        assert etcd_service.get(key) is None
        await watch.cancel()
        assert not watch.active


async def test_lease_expires_when_the_process_is_killed(etcd_env, put_json, etcd_service, etcd_prefix):
    put_json("system/resources/registry/enabled", True)
    put_json("system/resources/registry/ttl_seconds", TTL)
    put_json("system/microservices/observer/resources/registry/enabled", False)
    async with Observer(environ=etcd_env) as observer:
        snapshots = Snapshots()
        await observer.registry.watch("killed_service", snapshots)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVICE),
            env={**os.environ, **etcd_env, "PYTHONUNBUFFERED": "1"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            [instance] = await snapshots.until(lambda instances: len(instances) == 1, timeout=20)
            assert instance.data["pid"] == process.pid
            # Alive past its TTL: the subprocess renews the lease.
            await asyncio.sleep(TTL * 1.5)
            assert len(await observer.registry.instances("killed_service")) == 1
            process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await snapshots.until(lambda instances: instances == [], timeout=TTL + 4)
            elapsed = time.monotonic() - killed_at
        finally:
            if process.returncode is None:
                process.kill()
            output = (await process.stdout.read()).decode()
            await process.wait()
        assert process.returncode == -signal.SIGKILL, output
        # Not deregistered (no chance to): etcd expired the lease after at most its TTL.
        assert 0.3 < elapsed < TTL + 2, f"removed {elapsed:.2f} s after the kill"
        assert etcd_service.get_prefix(f"{etcd_prefix}discovery/killed_service/") == {}


async def test_enabled_registry_without_etcd_is_a_clear_start_error():
    class NoEtcd(MicroserviceContext):
        name = "no_etcd"
        registry = Registry()

    service = NoEtcd(environ={})
    service.settings.update_internal({"system": {"resources": {"registry": {"enabled": True}}}})
    with pytest.raises(Exception) as info:
        await service.start()
    await service.stop()
    error = info.value
    while getattr(error, "error", None) is not None:
        error = error.error
    assert isinstance(error, RegistryError)
    assert "TAMARCO_ETCD_HOST" in str(error) and "system.resources.registry.enabled" in str(error)


async def test_a_registry_restarted_in_place_registers_again(etcd_env, put_json, etcd_service, etcd_prefix):
    put_json("system/microservices/restarted/resources/registry/enabled", True)
    put_json("system/resources/registry/ttl_seconds", TTL)

    class Restarted(MicroserviceContext):
        name = "restarted"
        registry = Registry()

    service = Restarted(environ=etcd_env)
    async with service:
        await service.registry.wait_registered(5)
        key = f"{etcd_prefix}discovery/restarted/{service.instance_id}"
        first_lease = service.registry.lease_id
        assert await service.restart_resource("registry", timeout=10) == ["registry"]
        # the running hooks ran long ago: post_start registers again, with a new lease
        await service.registry.wait_registered(5)
        assert service.registry.lease_id not in (None, first_lease)
        assert etcd_service.get(key) is not None
        assert service.hooks.registered("running") == [service.registry._register]
    assert etcd_service.get(key) is None

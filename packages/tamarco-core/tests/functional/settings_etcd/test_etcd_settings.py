"""The etcd settings backend against the harness's real etcd (one key namespace per test)."""

import asyncio
import json
import logging
import time

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.settings import Settings
from tamarco.core.settings.backends.etcd import (
    EtcdCheckKeyTimeout,
    EtcdSettingsBackend,
    EtcdUnavailableError,
)
from tamarco.resources.bases import BaseResource

# The etcd settings suite runs on both harness backends (docker: ./dev docker's images).
pytestmark = [pytest.mark.functional, pytest.mark.harness_backends("local", "docker")]


async def started(env, name="dog", internal=None):
    settings = Settings(microservice_name=name, environ=env)
    if internal:
        settings.update_internal(internal)
    await settings.start()
    return settings


async def test_loads_the_tree_with_json_types(etcd_env, put_json, put_raw):
    put_json("system/deploy_name", "staging")
    put_json("system/resources/amqp/port", 5672)
    put_json("system/resources/amqp/ratio", 0.25)
    put_json("system/resources/amqp/ssl", False)
    put_json("system/resources/amqp/hosts", ["a", "b"])
    put_json("system/resources/amqp/none", None)
    put_json("outside_system", 1)
    put_raw("system/resources/amqp/legacy", "plain text, not JSON")
    with capture_logs() as logs:
        settings = await started(etcd_env)
    try:
        assert await settings.get("system.deploy_name") == "staging"
        assert await settings.get("system.resources.amqp") == {
            "port": 5672,
            "ratio": 0.25,
            "ssl": False,
            "hosts": ["a", "b"],
            "none": None,
            "legacy": "plain text, not JSON",
        }
        assert await settings.get("outside_system", "not loaded") == "not loaded"
        warning = logs.find(level="WARNING", contains="system.resources.amqp.legacy")
        assert "not valid JSON" in warning.message and "plain text, not JSON" in warning.message
    finally:
        await settings.stop()


async def test_precedence_internal_etcd_and_per_microservice(
    etcd_env, put_json, etcd_service, etcd_prefix, changes, eventually
):
    internal = {"system": {"logging": {"profile": "PRODUCTION", "stdout": True}, "resources": {"a": {"x": 1, "y": 1}}}}
    put_json("system/resources/a/x", 2)
    put_json("system/microservices/dog/resources/a/y", 3)
    dog = await started(etcd_env, "dog", internal)
    cat = await started(etcd_env, "cat", internal)
    try:
        assert await dog.get("system.resources.a") == {"x": 2, "y": 3}
        assert await cat.get("system.resources.a") == {"x": 2, "y": 1}
        assert await cat.get("system.logging.stdout") is True
        await dog.watch("system.resources.a", changes)

        # Adding a per-microservice override changes the effective value live...
        put_json("system/microservices/dog/resources/a/x", 20)
        assert await changes.next() == ("system.resources.a.x", 20)
        assert await dog.get("system.resources.a.x") == 20
        # ...a general change under an override is not seen through it...
        put_json("system/resources/a/x", 4)
        put_json("system/resources/a/z", 5)
        assert await changes.next() == ("system.resources.a.z", 5)
        assert await dog.get("system.resources.a.x") == 20
        # ...and removing the override shows the general value again.
        etcd_service.delete_prefix(etcd_prefix + "system/microservices/dog/resources/a/x")
        assert await changes.next() == ("system.resources.a.x", 4)
        # cat has its own watch stream: it gets the general change on its own schedule.
        await eventually(lambda: cat.get_nowait("system.resources.a.x") == 4, 1, "cat sees x=4")
    finally:
        await dog.stop()
        await cat.stop()


async def test_watch_fires_on_put_and_delete_within_a_second(etcd_env, put_json, etcd_service, etcd_prefix, changes):
    put_json("system/feature/enabled", False)
    settings = await started(etcd_env)
    try:
        await settings.watch("system.feature", changes)
        started_at = time.monotonic()
        put_json("system/feature/enabled", True)
        assert await changes.next(timeout=1.0) == ("system.feature.enabled", True)
        assert time.monotonic() - started_at < 1.0
        assert await settings.get("system.feature.enabled") is True

        etcd_service.delete_prefix(etcd_prefix + "system/feature/enabled")
        assert await changes.next(timeout=1.0) == ("system.feature.enabled", None)
        assert await settings.get("system.feature.enabled", "gone") == "gone"
        assert changes.queue.empty()
    finally:
        await settings.stop()


async def test_set_and_delete_go_to_etcd_with_the_same_mapping(etcd_env, etcd_service, etcd_prefix, changes):
    settings = await started(etcd_env)
    other = await started(etcd_env, "other")
    try:
        await other.watch("system.db", changes)
        await settings.set("system.db", {"host": "h", "port": 5432, "opts": {"ssl": True}})
        assert json.loads(etcd_service.get(etcd_prefix + "system/db/port")) == 5432
        assert json.loads(etcd_service.get(etcd_prefix + "system/db/opts/ssl")) is True
        seen = await changes.until(("system.db.port", 5432))
        assert ("system.db.host", "h") in seen + await _drain(changes)
        assert await other.get("system.db") == {"host": "h", "port": 5432, "opts": {"ssl": True}}

        # A scalar replaces the subtree, in etcd and in every service.
        await settings.set("system.db", "sqlite://")
        assert etcd_service.get_prefix(etcd_prefix + "system/db/") == {}
        await changes.until(("system.db", "sqlite://"))
        assert await other.get("system.db") == "sqlite://"

        with pytest.raises(TypeError, match=r"system\.db\.when"):
            await settings.set("system.db", {"when": object()})
        assert json.loads(etcd_service.get(etcd_prefix + "system/db")) == "sqlite://"

        await settings.delete("system.db")
        assert etcd_service.get_prefix(etcd_prefix + "system/") == {}
        await changes.until(("system.db", None))
        assert await other.get("system.db", None) is None
    finally:
        await settings.stop()
        await other.stop()


async def _drain(changes):
    drained = []
    while not changes.queue.empty():
        drained.append(changes.queue.get_nowait())
    return drained


@pytest.fixture
def settings_info_logs():
    """Standalone Settings log through ``tamarco.settings`` at the root's level: lower it."""
    logger = logging.getLogger("tamarco.settings")
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(previous)


async def test_check_key_waits_until_it_exists(etcd_env, put_json, settings_info_logs):
    put_json("system/deploy_name", "configured")
    env = {**etcd_env, "ETCD_CHECK_KEY": "etcd_ready", "TAMARCO_ETCD_CHECK_TIMEOUT": "10"}
    settings = Settings("dog", environ=env)
    with capture_logs() as logs:
        starting = asyncio.ensure_future(settings.start())
        waiting = await logs.wait_for(contains="ETCD_CHECK_KEY", level="INFO")
        assert "etcd_ready" in waiting.message and "10 s" in waiting.message
        assert not starting.done()
        put_json("etcd_ready", True)
        await asyncio.wait_for(starting, 2)
    try:
        assert await settings.get("system.deploy_name") == "configured"
    finally:
        await settings.stop()


async def test_check_key_timeout_is_a_clear_startup_error(etcd_env, etcd_prefix):
    env = {**etcd_env, "ETCD_CHECK_KEY": "/etcd_ready", "TAMARCO_ETCD_CHECK_TIMEOUT": "0.3"}
    settings = Settings("dog", environ=env)
    with pytest.raises(EtcdCheckKeyTimeout) as info:
        await settings.start()
    message = str(info.value)
    assert f"{etcd_prefix}etcd_ready" in message
    assert "0.3 s" in message and "TAMARCO_ETCD_CHECK_TIMEOUT" in message
    await settings.stop()


async def test_unreachable_etcd_retries_then_names_the_address(free_port):
    env = {"TAMARCO_ETCD_HOST": "127.0.0.1", "TAMARCO_ETCD_PORT": str(free_port), "TAMARCO_ETCD_STARTUP_TIMEOUT": "0.8"}
    settings = Settings("dog", environ=env)
    started_at = time.monotonic()
    with capture_logs() as logs, pytest.raises(EtcdUnavailableError) as info:
        await settings.start()
    assert time.monotonic() - started_at >= 0.8
    assert f"127.0.0.1:{free_port}" in str(info.value)
    assert "TAMARCO_ETCD_STARTUP_TIMEOUT" in str(info.value)
    assert len(logs.filter(contains="not reachable yet")) == 1  # retried, logged once
    await settings.stop()


class Greeter(BaseResource):
    """A resource that applies ``greeting`` live and needs a restart for anything else."""

    live_settings = ("greeting",)

    def __init__(self):
        super().__init__()
        self.applied = asyncio.Queue()

    async def apply_settings(self, changes):
        self.applied.put_nowait(changes)


async def test_logging_profile_and_live_settings_applied_in_a_running_service(etcd_env, put_json, eventually):
    class Service(MicroserviceContext):  # a new Greeter (its queue) for each run: one per backend
        name = "live_service"
        greeter = Greeter()

    put_json("system/logging/profile", "PRODUCTION")
    put_json("system/resources/greeter/greeting", "hello")
    put_json("system/resources/greeter/port", 1)
    service = Service(environ=etcd_env)
    with capture_logs() as logs:
        async with service:
            service_logger = logging.getLogger("live_service")
            assert service_logger.getEffectiveLevel() == logging.INFO

            put_json("system/logging/profile", "DEVELOP")
            await eventually(lambda: service_logger.getEffectiveLevel() == logging.DEBUG, 2, "DEBUG level")
            # A per-microservice override of the profile wins over the general one.
            put_json("system/microservices/live_service/logging/profile", "PRODUCTION")
            await eventually(lambda: service_logger.getEffectiveLevel() == logging.INFO, 2, "INFO level")

            put_json("system/resources/greeter/greeting", "hola")
            assert await asyncio.wait_for(service.greeter.applied.get(), 2) == {"greeting": "hola"}
            put_json("system/resources/greeter/port", 2)
            record = await logs.wait_for(contains="needs a restart", timeout=2)
            assert "system.resources.greeter.port" in record.message
            assert service.greeter.applied.empty()


async def test_etcd_restart_keeps_cache_and_delivers_changes_made_meanwhile(
    etcd_env, put_json, etcd_service, changes, eventually
):
    put_json("system/resources/a/x", 1)
    settings = await started(etcd_env)
    backend = settings.backend
    assert isinstance(backend, EtcdSettingsBackend)
    try:
        await settings.watch("system.resources.a", changes)
        await eventually(backend.watching.is_set, 2, "watch established")
        with capture_logs() as logs:
            await asyncio.to_thread(etcd_service.stop)
            await eventually(lambda: not backend.watching.is_set(), 5, "outage noticed")
            # The service keeps serving its cached settings while etcd is down.
            assert await settings.get("system.resources.a.x") == 1
            await asyncio.to_thread(etcd_service.start)
            # Changed before the service is back on the watch: the re-read must deliver it.
            reconnected_before_put = backend.watching.is_set()
            put_json("system/resources/a/x", 2)
            put_json("system/resources/a/y", "new")
            await eventually(backend.watching.is_set, 10, "watch re-established")
            await eventually(
                lambda: settings.get_nowait("system.resources.a") == {"x": 2, "y": "new"}, 2, "changes delivered"
            )
            delivered = await _drain(changes)
            assert ("system.resources.a.x", 2) in delivered and ("system.resources.a.y", "new") in delivered
            # And the watch works again afterwards.
            put_json("system/resources/a/x", 3)
            await changes.until(("system.resources.a.x", 3), timeout=2)
        assert len(logs.filter(contains="lost the connection to etcd")) == 1
        assert len(logs.filter(contains="reachable again")) == 1
        assert backend.reconnections == 1
        assert await settings.get("system.resources.a") == {"x": 3, "y": "new"}
        if not reconnected_before_put:
            assert logs.find(contains="reachable again")  # the change came through the re-read
    finally:
        await settings.stop()


async def test_get_external_reads_etcd_now(etcd_env, put_json):
    put_json("system/limit", 1)
    settings = await started(etcd_env)
    try:
        put_json("system/limit", 2)
        # Read straight from etcd, whether or not the watch delivered the change yet.
        assert await settings.get_external("system.limit") == 2
        assert await settings.get("system.limit") == 2
        assert await settings.get_external("system.absent", "default") == "default"
    finally:
        await settings.stop()

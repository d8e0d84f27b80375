"""``tamarco.core.etcd`` used directly, as docs/settings.md shows it, against the real etcd."""

import pytest
from tamarco.core.etcd import EtcdConnectionConfig, EtcdSettingsStore, close_quietly, etcd_key

pytestmark = pytest.mark.functional


async def read_system_settings(environ) -> dict:
    """The example of docs/settings.md ("The connection: tamarco.core.etcd")."""
    config = EtcdConnectionConfig.from_environment(environ)
    client = config.client()
    try:
        tree, revision = await EtcdSettingsStore(client, config.namespace, config).read_tree("system")
        assert revision > 0
        return tree
    finally:
        await close_quietly(client)


async def test_the_documented_example_reads_what_etcd_holds(etcd_env, put_json):
    put_json("system/resources/amqp/port", 5672)
    put_json("system/logging/profile", "DEVELOP")
    assert await read_system_settings(etcd_env) == {
        "system": {"resources": {"amqp": {"port": 5672}}, "logging": {"profile": "DEVELOP"}}
    }


async def test_store_writes_with_the_shared_mapping(etcd_env, etcd_service, etcd_prefix):
    config = EtcdConnectionConfig.from_environment(etcd_env)
    client = config.client()
    try:
        store = EtcdSettingsStore(client, config.namespace, config)
        assert await store.write([("system.feature", {"on": True, "ratio": 0.5})]) == 2
        assert await store.read("system.feature") == {"on": True, "ratio": 0.5}
    finally:
        await close_quietly(client)
    assert etcd_key("system.feature.on", config.namespace) == f"{etcd_prefix.rstrip('/')}/system/feature/on".encode()
    assert etcd_service.get(f"{etcd_prefix.rstrip('/')}/system/feature/on") in ("true", b"true")

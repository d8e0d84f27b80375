"""Registry settings and documents, without etcd."""

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.settings import SettingsView, SettingTypeError
from tamarco.core.settings.backends import SettingsBackend
from tamarco.resources.basic.registry import RegisteredInstance, Registry, RegistryError


class NoExternalSettings(SettingsBackend):
    """Keeps the settings off etcd while ``TAMARCO_ETCD_HOST`` is set for the registry."""

    async def load(self):
        return {}


def context(settings, environ=None):
    class Registered(MicroserviceContext):
        name = "registered"
        registry = Registry()

    service = Registered(environ=environ or {}, settings_backend=NoExternalSettings())
    service.settings.update_internal({"system": {"resources": {"registry": settings}}})
    return service


async def start_error(service):
    try:
        await service.start()
    except Exception as error:
        while getattr(error, "error", None) is not None:
            error = error.error
        return error
    finally:
        await service.stop()
    raise AssertionError("the service started")


async def test_disabled_by_default_without_etcd_or_hooks():
    service = context({})
    async with service:
        assert service.registry.enabled is False
        assert service.hooks.registered("running") == [] and service.hooks.registered("stopping") == []
        assert (await service.registry.status())["registered"] is False


@pytest.mark.parametrize("ttl", [1, 0, "10", 2.5, True])
async def test_ttl_must_be_an_integer_of_at_least_two(ttl):
    error = await start_error(context({"ttl_seconds": ttl}))
    assert isinstance(error, RegistryError)
    assert "system.resources.registry.ttl_seconds" in str(error)


async def test_enabled_must_be_a_bool():
    error = await start_error(context({"enabled": "yes"}))
    assert isinstance(error, SettingTypeError)
    assert "system.resources.registry.enabled" in str(error)


async def test_enabled_without_etcd_names_what_is_missing():
    error = await start_error(context({"enabled": True}))
    assert isinstance(error, RegistryError)
    assert "TAMARCO_ETCD_HOST" in str(error)


async def test_enabled_hooks_into_running_and_stopping_and_unhooks_on_stop():
    service = context({"enabled": True, "port": 81, "metadata": {"zone": "b"}}, {"TAMARCO_ETCD_HOST": "127.0.0.1"})
    registry = service.registry
    await registry.bind(service, "registry")
    await service.settings.start()
    await registry.configure_settings(SettingsView(service.settings, "system.resources.registry"))
    await registry.start()
    assert service.hooks.registered("running") == [registry._register]
    assert service.hooks.registered("stopping") == [registry._deregister]
    await registry.start()  # started again (a restart): hooked once, not twice
    assert service.hooks.registered("running") == [registry._register]
    document = registry.registration()
    assert document["service"] == "registered" and document["instance_id"] == service.instance_id
    assert document["port"] == 81 and document["metadata"] == {"zone": "b"}
    await registry.stop()
    assert service.hooks.registered("running") == [] and service.hooks.registered("stopping") == []


def test_registered_instances_parse_what_they_can():
    good = RegisteredInstance.from_json("svc", "id1", b'{"host": "10.0.0.1", "port": 80, "metadata": {"a": 1}}')
    assert good.address == "10.0.0.1:80" and good.metadata == {"a": 1}
    no_port = RegisteredInstance.from_json("svc", "id2", b'{"host": "h", "port": true}')
    assert no_port.port is None and no_port.address == "h"
    garbage = RegisteredInstance.from_json("svc", "id3", b"not json")
    assert garbage.host is None and garbage.address is None and garbage.data == {"raw": "not json"}
    assert RegisteredInstance.from_json("svc", "id4", b"[1]").data == {"value": [1]}


async def test_invalid_service_names_are_rejected():
    service = context({}, {"TAMARCO_ETCD_HOST": "127.0.0.1"})
    async with service:
        with pytest.raises(RegistryError, match="invalid service name"):
            await service.registry.instances("a/b")


async def test_without_a_port_setting_it_registers_the_report_servers_port_found_by_contract():
    from tamarco.resources.bases import BaseResource

    class Endpoints(BaseResource):  # any resource implementing tamarco.core.report_server.ReportServer
        url = "http://127.0.0.1:5999"
        port = 5999

        def add_route(self, method, path, handler):
            pass

    class Registered(MicroserviceContext):
        name = "registered"
        registry = Registry()
        ops = Endpoints()

    service = Registered(environ={}, settings_backend=NoExternalSettings())
    await service.registry.bind(service, "registry")
    await service.settings.start()
    await service.registry.configure_settings(SettingsView(service.settings, "system.resources.registry"))
    assert service.registry.registration()["port"] == 5999
    service.ops.port = None  # not listening (yet): no port rather than a wrong one
    assert service.registry.registration()["port"] is None


@pytest.mark.parametrize(("key", "value"), [("metadata", "zone=b"), ("port", "81"), ("port", 0), ("host", 12)])
async def test_host_port_and_metadata_are_checked_at_start_not_at_registration(key, value):
    error = await start_error(context({"enabled": True, key: value}, {"TAMARCO_ETCD_HOST": "127.0.0.1"}))
    assert isinstance(error, RegistryError)
    assert f"setting system.resources.registry.{key} must be" in str(error)


async def test_its_wrong_settings_are_reported_with_the_other_resources_before_any_starts():
    from tamarco.core.errors import ResourceSettingsError
    from tamarco.core.messaging import InMemoryTransport, MessagingResource

    class Bus(MessagingResource):
        pass

    class Registered(MicroserviceContext):
        name = "registered"
        registry = Registry()
        bus = Bus(transport=InMemoryTransport())

    service = Registered(environ={}, settings_backend=NoExternalSettings())
    service.settings.update_internal(
        {"system": {"resources": {"registry": {"ttl_seconds": 1}, "bus": {"conection_timeout": 1}}}}
    )
    with pytest.raises(ResourceSettingsError) as raised:
        await service.start()
    await service.stop()
    text = str(raised.value)
    assert "wrong settings in 2 resources ('registry', 'bus')" in text
    assert "setting system.resources.registry.ttl_seconds must be an integer of at least 2, got 1" in text
    assert "setting system.resources.bus.conection_timeout is unknown" in text
    assert service.bus.transport is None  # nothing connected


async def test_every_wrong_setting_is_reported_at_once():
    from tamarco.resources.basic.registry import RegistrySettingsError

    settings = {"enabled": True, "ttl_seconds": 1, "host": 12, "port": 0, "metadata": "zone=b"}
    error = await start_error(context(settings, {"TAMARCO_ETCD_HOST": "127.0.0.1"}))
    assert isinstance(error, RegistrySettingsError)
    assert isinstance(error, RegistryError)
    assert str(error).startswith("4 wrong settings: ")
    for key in ("ttl_seconds", "host", "port", "metadata"):
        assert f"setting system.resources.registry.{key} must be" in str(error)


async def test_a_wrong_type_and_a_wrong_value_are_reported_together():
    error = await start_error(context({"enabled": "yes", "ttl_seconds": 0}))
    assert str(error).startswith("2 wrong settings: ")
    assert "setting system.resources.registry.enabled must be bool" in str(error)
    assert "setting system.resources.registry.ttl_seconds must be an integer of at least 2, got 0" in str(error)

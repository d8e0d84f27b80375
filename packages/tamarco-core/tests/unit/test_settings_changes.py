"""A setting changed while running: applied live, an error naming a key the resource does not
know (its ``settings_keys``), or a warning naming the resource that needs a restart, for every
resource alike; core settings checked again on change."""

from __future__ import annotations

from typing import Any, ClassVar

from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import BaseResource


class Plain(BaseResource):
    """No live settings (as the report server, metrics and most resources)."""


class Live(BaseResource):
    live_settings: ClassVar[tuple[str, ...]] = ("level",)

    def __init__(self) -> None:
        super().__init__()
        self.applied: list[dict[str, Any]] = []

    async def apply_settings(self, changes: dict[str, Any]) -> None:
        self.applied.append(changes)


class Declared(Live):
    """Declares its keys, as the metrics, status, HTTP and messaging resources do."""

    settings_keys: ClassVar[tuple[str, ...]] = ("level", "port")


class Service(MicroserviceContext):
    name = "changes"
    plain = Plain()
    live = Live()
    declared = Declared()


async def test_every_resource_says_when_a_change_needs_a_restart() -> None:
    service = Service(environ={})
    service.settings.update_internal({"system": {"resources": {"plain": {"port": 1}, "live": {"port": 2}}}})
    with capture_logs() as logs:
        async with service:
            await service.settings.set("system.resources.plain.port", 10)
            await service.settings.set("system.resources.live.port", 20)
            await service.settings.set("system.resources.live.level", "debug")
    assert logs.find(message="setting system.resources.plain.port changed; resource plain needs a restart to apply it")
    assert logs.find(message="setting system.resources.live.port changed; resource live needs a restart to apply it")
    assert logs.find(message="resource live applied setting system.resources.live.level live")
    assert service.live.applied == [{"level": "debug"}]


async def test_a_key_the_resource_does_not_declare_is_an_error_not_a_restart() -> None:
    service = Service(environ={})
    prefix = "system.resources.declared"
    with capture_logs() as logs:
        async with service:
            await service.settings.set(f"{prefix}.levle", "debug")  # a typo of the live "level"
            await service.settings.set(f"{prefix}.levle", "info")
            await service.settings.set(f"{prefix}.extra.deep", 1)  # under an unknown top-level key
            await service.settings.set(f"{prefix}.port", 10)  # known, not live
            await service.settings.set(f"{prefix}.level", "debug")  # live
            await service.settings.set("system.resources.plain.levle", 1)  # keys not declared
            await service.settings.delete(f"{prefix}.levle")
    ignored = "it is ignored, and the next start will refuse it"
    assert [record.message for record in logs.filter(level="ERROR")] == [
        f"setting {prefix}.levle changed, but levle is not a setting of resource declared (known: level, port): "
        + ignored,
        f"setting {prefix}.levle changed, but levle is not a setting of resource declared (known: level, port): "
        + ignored,
        f"setting {prefix}.extra.deep changed, but extra is not a setting of resource declared (known: level, port): "
        + ignored,
    ]
    assert service.declared.applied == [{"level": "debug"}]  # only the live key reached the resource
    assert logs.find(message=f"setting {prefix}.port changed; resource declared needs a restart to apply it")
    assert logs.find(message=f"resource declared applied setting {prefix}.level live")
    assert logs.find(message="setting system.resources.plain.levle changed; resource plain needs a restart to apply it")
    assert logs.find(message=f"setting {prefix}.levle removed (levle is not a setting of resource declared)")
    assert not logs.filter(contains=f"{prefix}.levle changed; resource declared needs a restart")


async def test_the_shutdown_timeout_is_checked_again_when_it_changes() -> None:
    service = Service(environ={})
    service.settings.update_internal({"system": {"shutdown_timeout_seconds": 7}})
    with capture_logs() as logs:
        async with service:
            assert service.shutdown_timeout() == 7
            await service.settings.set("system.shutdown_timeout_seconds", "soon")
            assert service.shutdown_timeout() == 7
            await service.settings.set("system.shutdown_timeout_seconds", 3)
            assert service.shutdown_timeout() == 3
            await service.settings.set("system.deploy_name", "blue")
    error = logs.find(level="ERROR", contains="system.shutdown_timeout_seconds")
    assert error.message == (
        "setting system.shutdown_timeout_seconds must be a number of seconds greater than 0, got 'soon'; keeping 7 s"
    )
    assert logs.find(message="setting system.deploy_name changed; the service needs a restart to apply it")

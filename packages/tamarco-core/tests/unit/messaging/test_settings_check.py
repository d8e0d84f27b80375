"""Every resource's settings are checked before any resource starts: the wrong keys of all of them
fail the start together, and nothing connects."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.errors import ResourceSettingsError, ResourceStartError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import InMemoryTransport, MessageOutput, MessagingResource, PullInput
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import BaseResource, StatusCodes


class CountingTransport(InMemoryTransport):
    """The in-memory transport, counting the connections asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.connects = 0

    async def connect(self) -> None:
        self.connects += 1
        await super().connect()


class Bus(MessagingResource):
    transport_kind = "memory"
    settings_keys = (*MessagingResource.settings_keys, "address")


class Journal(BaseResource):
    """A resource with no settings of its own, recording whether it got to ``pre_start``."""

    def __init__(self) -> None:
        super().__init__()
        self.pre_started = False

    async def pre_start(self) -> None:
        self.pre_started = True


def service_with(settings: dict[str, Any]) -> tuple[MicroserviceContext, list[CountingTransport]]:
    transports = [CountingTransport(), CountingTransport()]
    service_class = type(
        "Checked",
        (MicroserviceContext,),
        {
            "name": "checked",
            "use_default_resources": False,
            "journal": Journal(),
            "orders": Bus(inputs=[PullInput("orders")], transport=transports[0]),
            "events": Bus(outputs=[MessageOutput("events")], transport=transports[1]),
        },
    )
    service = service_class(environ={})
    service.settings.update_internal({"system": {"resources": settings}})
    return service, transports


async def test_wrong_keys_in_two_resources_fail_the_start_together_and_nothing_connects() -> None:
    service, transports = service_with(
        {
            "orders": {"adress": "nowhere", "delivery": {"max_concurency": 1}},
            "events": {"connection_timeout": -1},
        }
    )
    with pytest.raises(ResourceSettingsError) as raised:
        await service.start()
    await service.stop()
    text = str(raised.value)
    assert "wrong settings in 2 resources ('orders', 'events')" in text
    assert "setting system.resources.orders.adress is unknown (known: address, connection_timeout" in text
    assert "system.resources.orders.delivery.max_concurency is unknown" in text
    assert "setting system.resources.events.connection_timeout must be a number of seconds > 0, got -1" in text
    assert isinstance(raised.value, ResourceStartError)  # what callers of a failed start catch
    assert set(raised.value.errors) == {"orders", "events"}
    assert [transport.connects for transport in transports] == [0, 0]
    assert not service.journal.pre_started  # the check runs before any resource's pre_start
    assert service.orders.status_code is StatusCodes.FAILED
    assert "adress" in str(service.orders.last_error)
    assert service.events.status_code is StatusCodes.FAILED


async def test_one_wrong_resource_is_named_as_a_start_failure_is() -> None:
    service, transports = service_with({"events": {"port": 5672}})
    with pytest.raises(ResourceSettingsError, match="resource 'events' failed in settings check") as raised:
        await service.start()
    await service.stop()
    assert "setting system.resources.events.port is unknown" in str(raised.value)
    assert [transport.connects for transport in transports] == [0, 0]


async def test_declared_keys_are_accepted_and_the_service_connects() -> None:
    service, transports = service_with(
        {"orders": {"address": "here", "inputs": {"orders": {"max_concurrency": 2}}, "drain_timeout_seconds": 1}}
    )
    async with service:
        assert service.orders.status_code is StatusCodes.STARTED
    assert [transport.connects for transport in transports] == [1, 1]


async def test_a_resource_settings_that_is_not_a_mapping_is_refused() -> None:
    service, _ = service_with({"events": "amqp://somewhere"})
    with pytest.raises(ResourceSettingsError, match=r"setting system\.resources\.events must be a mapping"):
        await service.start()
    await service.stop()


async def test_a_drain_timeout_past_the_shutdown_timeout_is_said_once() -> None:
    service, _ = service_with({"orders": {"drain_timeout_seconds": 100}})
    service.settings.update_internal({"system": {"shutdown_timeout_seconds": 10}})
    with capture_logs(level="WARNING") as logs:
        async with service:
            pass
    said = [m for m in logs.messages if "system.resources.orders.drain_timeout_seconds (100 s) is not below" in m]
    assert len(said) == 1, logs.messages
    assert "draining for 8 s" in said[0]

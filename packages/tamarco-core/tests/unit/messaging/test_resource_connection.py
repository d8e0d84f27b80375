"""MessagingResource: connection retries, failures that name the broker, connection state."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.messaging import (
    AuthenticationError,
    InMemoryTransport,
    MessageOutput,
    MessagingResource,
    NotConnectedError,
    PullInput,
)
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import InputBase, OutputBase, StatusCodes


class Bus(MessagingResource):
    transport_kind = "memory"


class FlakyTransport(InMemoryTransport):
    """Refuses ``failures`` connections, then connects."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0
        self.error = error or ConnectionRefusedError("connection refused")

    def describe(self) -> dict[str, Any]:
        return {"address": "broker.test:5672/vhost"}

    async def connect(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        await super().connect()


def _context(bus: Bus, settings: dict[str, Any]) -> MicroserviceContext:
    context_class = type("Ctx", (MicroserviceContext,), {"name": "conn_test", "bus": bus})
    context = context_class(environ={})
    context.settings.update_internal({"system": {"resources": {"bus": settings}}})
    return context


async def test_connects_after_retries_and_reports_each_status() -> None:
    transport = FlakyTransport(failures=2)
    bus = Bus(transport=transport)
    seen: list[str] = []
    bus.add_status_listener(lambda resource, old, new: seen.append(new.name))
    async with _context(bus, {"connection_timeout": 5}):
        assert bus.status_code == StatusCodes.STARTED
    assert transport.attempts == 3
    assert seen == ["CONNECTING", "STARTED", "STOPPING", "STOPPED"]


async def test_unreachable_broker_fails_naming_the_address_after_the_timeout() -> None:
    bus = Bus(transport=FlakyTransport(failures=10_000))
    with pytest.raises(Exception, match=r"broker\.test:5672/vhost within 0\.5 s"):
        async with _context(bus, {"connection_timeout": 0.5}):
            pass
    assert bus.status_code in (StatusCodes.FAILED, StatusCodes.STOPPED)
    assert "broker.test:5672/vhost" in str(bus.last_error)


async def test_refused_credentials_are_not_retried() -> None:
    transport = FlakyTransport(failures=1, error=AuthenticationError("authentication failed for user bob"))
    bus = Bus(transport=transport)
    with pytest.raises(Exception, match="authentication failed for user bob"):
        async with _context(bus, {"connection_timeout": 5}):
            pass
    assert transport.attempts == 1


async def test_connection_loss_and_recovery_move_the_status() -> None:
    transport = InMemoryTransport()
    output = MessageOutput("jobs")
    bus = Bus(outputs=[output], transport=transport)
    async with _context(bus, {}):
        transport.simulate_connection_loss("socket closed")
        assert bus.status_code == StatusCodes.CONNECTING
        assert bus.last_error == "socket closed"
        with pytest.raises(NotConnectedError):
            await output.push("while down")
        transport.simulate_connection_restored()
        assert bus.status_code == StatusCodes.STARTED
        await output.push("after")


@pytest.mark.parametrize("value", [0, -1, "soon", True])
async def test_bad_timeouts_name_the_setting(value: Any) -> None:
    bus = Bus(transport=InMemoryTransport())
    with pytest.raises(Exception, match=r"system\.resources\.bus\.connection_timeout"):
        async with _context(bus, {"connection_timeout": value}):
            pass


@pytest.mark.parametrize("value", [-1, 0, "5s", False])
async def test_a_bad_drain_timeout_fails_the_start_naming_the_setting(value: Any) -> None:
    transport = FlakyTransport(failures=0)
    bus = Bus(transport=transport)
    with pytest.raises(
        Exception, match=r"system\.resources\.bus\.drain_timeout_seconds must be a number of seconds > 0"
    ):
        async with _context(bus, {"drain_timeout_seconds": value}):
            pass
    assert transport.attempts == 0, "refused before connecting"


async def test_every_wrong_setting_is_reported_at_once_before_connecting() -> None:
    transport = FlakyTransport(failures=0)
    bus = Bus(inputs=[PullInput("jobs"), PullInput("mail")], transport=transport)
    settings = {
        "drain_timeout_seconds": 0,
        "delivery": {"max_concurency": 1},
        "inputs": {"mail": {"retry": {"atempts": 2}}},
    }
    with pytest.raises(Exception, match="3 wrong settings: ") as raised:
        async with _context(bus, settings):
            pass
    message = str(raised.value)
    assert message.count("max_concurency") == 1, message  # the delivery key once, not per input
    for key in (
        "system.resources.bus.drain_timeout_seconds must be",
        "system.resources.bus.delivery.max_concurency is unknown",
        "system.resources.bus.inputs.mail.retry.atempts is unknown",
    ):
        assert key in message
    assert transport.attempts == 0, "refused before connecting"


async def test_status_before_start_names_each_inputs_source_and_each_outputs_destination() -> None:
    async def handle(body: Any) -> None:
        pass

    bus = Bus(transport=InMemoryTransport())
    bus.add_input(PullInput("orders", on_message=handle, name="orders"))
    bus.add_input(InputBase(name="plain"))  # a plain core input: kept, not consumed
    bus.add_output(MessageOutput("invoices"))
    bus.add_output(OutputBase(name="raw"))
    status = await bus.status()
    assert status["inputs"] == {
        "orders": {"source": "orders", "pattern": "pull"},
        "plain": {"source": None, "pattern": None},
    }
    assert status["outputs"] == {"invoices": {"destination": "invoices"}, "raw": {"destination": None}}

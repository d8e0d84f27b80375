"""The keys of ``system.resources.<amqp resource>``: every documented one taken, any other refused
naming its full key, and the wrong settings of two resources reported together before either
tries to connect."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from tamarco.core.errors import ResourceSettingsError
from tamarco.core.logging.testing import capture_logs
from tamarco.core.messaging import InMemoryTransport
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.amqp import AMQPOutput, AMQPPullInput, AMQPResource

#: Every key docs/amqp.md and docs/messaging.md list for an AMQP resource (the 0.1 reference's first).
DOCUMENTED = {
    "host": "127.0.0.1",
    "port": 5672,
    "vhost": "/",
    "user": "microservice",
    "password": 1234,
    "connection_timeout": 10,
    "queues_prefix": "prefix",
    "url": "amqp://127.0.0.1:5672/",
    "naming": "0.1",
    "prefetch": 4,
    "tls": False,
    "verify": True,
    "reconnect_interval_seconds": 0.5,
    "max_reconnect_interval_seconds": 5,
    "heartbeat_seconds": 60,
    "max_message_size": 1024,
    "drain_timeout_seconds": 2,
    "delivery": {"max_concurrency": 2},
    "inputs": {"cows": {"max_concurrency": 1}},
}


def service_with(settings: dict[str, Any], **resources: AMQPResource) -> MicroserviceContext:
    service_class = type("Herd", (MicroserviceContext,), {"name": "herd", "use_default_resources": False, **resources})
    service = service_class(environ={})
    service.settings.update_internal({"system": {"resources": settings}})
    return service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_every_documented_key_is_taken() -> None:
    amqp = AMQPResource(inputs=[AMQPPullInput("cows")], transport=InMemoryTransport())
    service = service_with({"amqp": DOCUMENTED}, amqp=amqp)
    async with service:
        assert amqp.status_code is StatusCodes.STARTED


async def test_an_unknown_top_level_key_is_refused_naming_it() -> None:
    amqp = AMQPResource(inputs=[AMQPPullInput("cows")], transport=InMemoryTransport())
    service = service_with({"amqp": {"hots": "rabbit", "queue_prefix": "dev"}}, amqp=amqp)
    with pytest.raises(ResourceSettingsError) as raised:
        await service.start()
    await service.stop()
    text = str(raised.value)
    assert "setting system.resources.amqp.hots is unknown (known: ca_file, cert_file, connection_timeout" in text
    assert "setting system.resources.amqp.queue_prefix is unknown" in text
    assert "max_message_size" in text and "queues_prefix" in text  # the known keys are listed


async def test_wrong_keys_in_two_resources_fail_together_and_neither_connects() -> None:
    port = free_port()  # nothing listens there: a connection attempt would be logged and retried
    first = AMQPResource(inputs=[AMQPPullInput("cows")])
    second = AMQPResource(outputs=[AMQPOutput("cows")])
    settings = {
        "first": {"host": "127.0.0.1", "port": port, "vhostt": "/", "connection_timeout": 30},
        "second": {"host": "127.0.0.1", "port": port, "prefetch": 0, "password": "s3cret", "connection_timeout": 30},
    }
    service = service_with(settings, first=first, second=second)
    with capture_logs() as logs:
        with pytest.raises(ResourceSettingsError) as raised:
            await service.start()
        await service.stop()
    text = str(raised.value)
    assert "wrong settings in 2 resources ('first', 'second')" in text
    assert "setting system.resources.first.vhostt is unknown" in text
    assert "setting system.resources.second.prefetch must be a whole number >= 1, got 0" in text
    assert "s3cret" not in text
    assert first.status_code is StatusCodes.FAILED and second.status_code is StatusCodes.FAILED
    assert first.transport is None and second.transport is None  # no transport was ever connected
    assert not [message for message in logs.messages if "connect" in message], logs.messages

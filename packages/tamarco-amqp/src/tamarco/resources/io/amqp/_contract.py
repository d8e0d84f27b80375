"""How an AMQP resource appears in the service's AsyncAPI document (AMQP bindings 0.3.0).

The addresses follow :class:`~tamarco.resources.io.amqp.AMQPNames` with the resource's
``queues_prefix``: a pull input reads the durable queue ``<prefix><queue>``, a subscription input
the fanout exchange ``<prefix><queue>`` (through its own exclusive queue, named per instance and
so not in the document), a request input the queue ``<prefix><queue>.request`` and answers to the
requester's reply-to. An output can push, publish and request: three channels.
"""

from __future__ import annotations

from typing import Any

from tamarco.core.messaging import ChannelDescription, MessageInput, MessageOutput
from tamarco.resources.io.amqp._config import AMQPConfig
from tamarco.resources.io.amqp._naming import AMQPNames

__all__ = ["amqp_channels", "amqp_servers"]

_VERSION = {"bindingVersion": "0.3.0"}


def amqp_servers(name: str, config: AMQPConfig) -> dict[str, dict[str, Any]]:
    """The broker of ``config`` as an AsyncAPI server (no user, no password)."""
    vhost = config.vhost if config.vhost.startswith("/") else f"/{config.vhost}"
    return {
        name: {
            "host": f"{config.host}:{config.port}",
            "protocol": "amqps" if config.tls else "amqp",
            "protocolVersion": "0.9.1",
            "pathname": vhost,
            "description": f"RabbitMQ of resource {name} (queues_prefix {config.queues_prefix!r})",
        }
    }


def _queue(name: str, vhost: str, *, exclusive: bool = False) -> dict[str, Any]:
    return {
        "is": "queue",
        "queue": {
            "name": name,
            "durable": not exclusive,
            "exclusive": exclusive,
            "autoDelete": exclusive,
            "vhost": vhost,
        },
        **_VERSION,
    }


def _exchange(name: str, vhost: str) -> dict[str, Any]:
    return {
        "is": "routingKey",
        "exchange": {"name": name, "type": "fanout", "durable": True, "autoDelete": False, "vhost": vhost},
        **_VERSION,
    }


def amqp_channels(io: MessageInput | MessageOutput, config: AMQPConfig) -> list[ChannelDescription]:
    """The exchanges and queues ``io`` reads or writes."""
    names = AMQPNames(config.queues_prefix)
    vhost = config.vhost
    if isinstance(io, MessageInput):
        queue = io.source
        dead = names.dead_letter_queue(queue)
        receive = {"amqp": {"ack": True, **_VERSION}}

        def received(
            key: str, address: str, text: str, bindings: dict[str, Any], *, reply: bool = False
        ) -> list[ChannelDescription]:
            """The one channel the input reads, its failed messages dead-lettered to ``dead``."""
            return [
                ChannelDescription(
                    key,
                    address,
                    "receive",
                    text,
                    channel_bindings={"amqp": bindings},
                    operation_bindings=receive,
                    reply=reply,
                    dead_letter=dead,
                )
            ]

        if io.pattern == "subscribe":
            exchange = names.exchange(queue)
            return received(
                "subscribe",
                exchange,
                f"fanout exchange {exchange}: every subscribed service instance gets every message "
                f"(through its own exclusive queue {names.subscriber_queue(queue, '<instance>')})",
                _exchange(exchange, vhost),
            )
        if io.pattern == "request":
            requests = names.request_queue(queue)
            return received(
                "request",
                requests,
                f"durable queue {requests}: requests, answered to each request's reply-to",
                _queue(requests, vhost),
                reply=True,
            )
        pushed = names.push_queue(queue)
        return received(
            "pull",
            pushed,
            f"durable queue {pushed}: competing consumers, each message to one of them",
            _queue(pushed, vhost),
        )
    queue = io.destination
    pushed, exchange, requests = names.push_queue(queue), names.exchange(queue), names.request_queue(queue)
    return [
        ChannelDescription(
            "push",
            pushed,
            "send",
            f"push: persistent, to the durable queue {pushed} (its pull inputs)",
            channel_bindings={"amqp": _queue(pushed, vhost)},
            operation_bindings={"amqp": {"deliveryMode": 2, "mandatory": True, **_VERSION}},
        ),
        ChannelDescription(
            "publish",
            exchange,
            "send",
            f"publish: to the fanout exchange {exchange} (every subscriber)",
            channel_bindings={"amqp": _exchange(exchange, vhost)},
            operation_bindings={"amqp": {"deliveryMode": 2, **_VERSION}},
        ),
        ChannelDescription(
            "request",
            requests,
            "send",
            f"request: to the queue {requests}; the answer comes back by direct reply-to",
            channel_bindings={"amqp": _queue(requests, vhost)},
            operation_bindings={"amqp": {"deliveryMode": 1, **_VERSION}},
            reply=True,
        ),
    ]

"""The AMQP resource: inputs and outputs over one RabbitMQ connection (aio-pika).

::

    class Cows(Microservice):
        name = "cows"
        amqp = AMQPResource(outputs=[AMQPOutput(queue="cows", codec=JsonCodec)])

        @AMQPPullInput(resource=amqp, queue="cows", codec=JsonCodec)
        async def on_cow(self, message):
            ...

Settings live under ``system.resources.<attribute name>`` (``amqp`` above); see
:class:`~tamarco.resources.io.amqp.AMQPConfig` and docs/amqp.md. Start, reconnect, drain and
``/status`` are the core's :class:`~tamarco.core.messaging.MessagingResource`.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from tamarco.core.messaging import (
    ChannelDescription,
    MessageInput,
    MessageOutput,
    MessagingResource,
    Transport,
)
from tamarco.core.settings.environment import address_from_environment
from tamarco.resources.io.amqp._config import AMQP_SETTINGS_KEYS, AMQPConfig
from tamarco.resources.io.amqp._contract import amqp_channels, amqp_servers
from tamarco.resources.io.amqp._transport import DEFAULT_MAX_MESSAGE_SIZE, AMQPTransport

__all__ = ["AMQPResource"]

#: Settings that say where the broker is; with none of them, TAMARCO_AMQP_URL is used if set.
ADDRESS_KEYS = ("url", "host", "port", "vhost", "user", "password")


class AMQPResource(MessagingResource[MessageInput[Any]]):
    """RabbitMQ inputs (:class:`AMQPSubscriptionInput`, :class:`AMQPPullInput`,
    :class:`AMQPRequestInput`) and outputs (:class:`AMQPOutput`, :class:`AMQPGenericOutput`).

    ``use_transport(InMemoryTransport(broker))`` runs the same inputs and outputs in memory, for
    unit tests of a service's handlers.
    """

    transport_kind: ClassVar[str] = "amqp"
    settings_keys: ClassVar[tuple[str, ...]] = (
        *MessagingResource.settings_keys,
        *AMQP_SETTINGS_KEYS,
        "max_message_size",
    )
    #: aio-pika and aiormq log through the service's outputs, warnings and errors only.
    library_loggers: ClassVar[Mapping[str, int]] = {"aio_pika": logging.WARNING, "aiormq": logging.WARNING}

    def config(self) -> AMQPConfig:
        """The connection settings (checked; a wrong value names its full key)."""
        settings = self.settings
        if settings is None:
            return AMQPConfig()
        # No address settings: the broker `tamarco-harness up` printed (TAMARCO_AMQP_URL), if any.
        url = address_from_environment(settings, ADDRESS_KEYS, "TAMARCO_AMQP_URL")
        if url is not None:
            return AMQPConfig.from_settings(
                lambda key, default: url if key == "url" else settings.get_nowait(key, default),
                lambda key: "TAMARCO_AMQP_URL" if key == "url" else settings.full_key(key),
            )
        return AMQPConfig.from_settings(
            lambda key, default: settings.get_nowait(key, default), lambda key: settings.full_key(key)
        )

    def contract_servers(self) -> dict[str, dict[str, Any]]:
        return amqp_servers(str(self.name), self.config())

    def contract_channels(self, io: MessageInput | MessageOutput) -> list[ChannelDescription]:
        return amqp_channels(io, self.config())

    def create_transport(self) -> Transport[MessageInput[Any]]:
        config = self.config()
        max_size = self.settings_reader().whole("max_message_size", DEFAULT_MAX_MESSAGE_SIZE, minimum=1)
        service = getattr(self.microservice, "name", None) or "tamarco"
        instance = f"{service}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        return AMQPTransport(
            config,
            instance=instance,
            logger=self.logger,
            connection_name=f"{service}:{self.name}",
            max_message_size=max_size,
        )

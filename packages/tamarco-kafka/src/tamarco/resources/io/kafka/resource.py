"""``KafkaResource``: Kafka producers and consumer groups configured from ``system.resources.<name>``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from tamarco.core.messaging import ChannelDescription, MessageOutput, MessagingResource, Transport
from tamarco.core.settings.environment import address_from_environment
from tamarco.resources.bases import InputBase, OutputBase, StatusCodes
from tamarco.resources.io.kafka._config import KAFKA_SETTINGS_KEYS, KafkaConfig
from tamarco.resources.io.kafka._contract import kafka_channels, kafka_servers
from tamarco.resources.io.kafka._lane import Lane
from tamarco.resources.io.kafka._transport import KafkaTransport
from tamarco.resources.io.kafka.input import KafkaInput

__all__ = ["KafkaResource"]

#: The states a resource sends in (as the core's ``MessagingResource.send``).
_SENDING = (StatusCodes.STARTED, StatusCodes.CONNECTING)


class KafkaResource(MessagingResource[KafkaInput[Any]]):
    """Kafka inputs (:class:`~tamarco.resources.io.kafka.KafkaInput`) and outputs
    (:class:`~tamarco.resources.io.kafka.KafkaOutput`) over one broker cluster.

    ``kafka = KafkaResource(inputs=[...], outputs=[...])`` in a service; settings under
    ``system.resources.kafka`` (the attribute name): ``bootstrap_servers`` and the rest in
    docs/kafka.md. Outputs are reachable as ``self.kafka.outputs["<topic>"]``. In a unit test,
    ``service.kafka.use_transport(InMemoryTransport())`` runs the handlers without a broker.
    """

    transport_kind: ClassVar[str] = "kafka"
    #: Consumer groups of topics: Kafka inputs only (a core ``PullInput`` is refused by name).
    input_type = KafkaInput
    settings_keys: ClassVar[tuple[str, ...]] = (*MessagingResource.settings_keys, *KAFKA_SETTINGS_KEYS)
    #: aiokafka logs through the service's outputs, warnings and errors only.
    library_loggers: ClassVar[Mapping[str, int]] = {"aiokafka": logging.WARNING}

    def __init__(
        self,
        inputs: Sequence[InputBase] | None = None,
        outputs: Sequence[OutputBase] | None = None,
        *args: Any,
        transport: Transport[KafkaInput[Any]] | None = None,
        offset_reset: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(inputs, outputs, *args, transport=transport, **kwargs)
        #: 0.1's ``offset_reset`` argument: the consumers' ``auto_offset_reset`` unless the setting
        #: ``consumer.auto_offset_reset`` says otherwise.
        self.offset_reset = _offset_reset(offset_reset)
        #: Each output's way into the producer (see :meth:`lane`).
        self._lanes: dict[MessageOutput, Lane] = {}

    async def start(self) -> None:
        """Connect and start the inputs (the core's start), then wait until every input joined
        its consumer group (up to ``connection_timeout``), so the service consumes once started."""
        await super().start()
        transport = self.transport
        if isinstance(transport, KafkaTransport):
            await transport.wait_joined()

    def lane(self, output: MessageOutput) -> Lane | None:
        """``output``'s way into the producer (``KafkaOutput.send``/``push``; see ``_lane``), or
        None where the core's :meth:`send`/:meth:`enqueue` must run instead: not connected,
        another transport (in-memory), tracing wrapping them."""
        transport = self.transport
        if not isinstance(transport, KafkaTransport) or self._status_code not in _SENDING:
            return None
        producer = transport.producer
        lane = self._lanes.get(output)
        if lane is not None and lane.transport is transport and lane.appender.producer is producer:
            return lane
        if producer is None or "send" in self.__dict__ or "enqueue" in self.__dict__:
            return None
        lane = self._lanes[output] = Lane(
            transport,
            transport.appender_for(output.destination),
            output.destination,
            self.send_tracker(output),
            self._output_meters.get(str(output.name)),
            self._send_error,
        )
        return lane

    def service_name(self) -> str:
        microservice = self.microservice
        name = getattr(microservice, "name", None)
        return str(name) if name else "tamarco"

    def config(self) -> KafkaConfig:
        """The settings, checked (a wrong value names its full key); the default consumer group
        is the service's name."""
        service = self.service_name()
        config = KafkaConfig.from_settings(self.settings, default_client_id=service)
        if self.offset_reset is not None and self.setting("consumer.auto_offset_reset", None) is None:
            config.auto_offset_reset = self.offset_reset
        # No bootstrap_servers setting: the broker `tamarco-harness up` printed, if any.
        servers = address_from_environment(self.settings, ("bootstrap_servers",), "TAMARCO_KAFKA_BOOTSTRAP_SERVERS")
        if servers is not None:
            config.bootstrap_servers = [server.strip() for server in servers.split(",") if server.strip()]
        if config.default_group is None:
            config.default_group = service
        return config

    def contract_servers(self) -> dict[str, dict[str, Any]]:
        return kafka_servers(str(self.name), self.config())

    def contract_channels(self, io: KafkaInput[Any] | MessageOutput) -> list[ChannelDescription]:
        config = self.config()
        return kafka_channels(io, config, config.default_group or self.service_name())

    def create_transport(self) -> Transport[KafkaInput[Any]]:
        config = self.config()
        topics = [topic for _, input_ in self.message_inputs() for topic in input_.topics]
        for output in self.outputs.values():
            if isinstance(output, MessageOutput):
                topics.append(output.destination)
        return KafkaTransport(
            config,
            topics=topics,
            resource_name=str(self.name),
            join_timeout=self.connection_timeout(),
            logger=self.logger,
        )

    async def status(self) -> dict[str, Any]:
        transport = self.transport
        if isinstance(transport, KafkaTransport):
            transport.sweep_sends()
        info = await super().status()
        broker = info.get("broker")
        groups = broker.pop("groups", {}) if isinstance(broker, dict) else {}
        for name, group in groups.items():
            if name in info["inputs"]:
                info["inputs"][name].update(group)
        if isinstance(transport, KafkaTransport):
            info["send_failures"] = transport.send_failures
        return info


#: 0.1 (confluent-kafka) spellings of ``auto.offset.reset``, and aiokafka's.
_OFFSET_RESETS = {"smallest": "earliest", "earliest": "earliest", "largest": "latest", "latest": "latest"}


def _offset_reset(value: str | None) -> str | None:
    if value is None or value is False:  # 0.1's default was False: the broker's
        return None
    if value not in _OFFSET_RESETS:
        raise ValueError(f"KafkaResource: offset_reset must be one of {', '.join(_OFFSET_RESETS)}, got {value!r}")
    return _OFFSET_RESETS[value]

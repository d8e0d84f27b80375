"""The settings of a Kafka resource (``system.resources.<name>``), checked once at start.

Every wrong value is a :class:`~tamarco.core.messaging.MessagingSettingsError` naming the full
key. Credentials are kept out of :meth:`KafkaConfig.describe` and of every message.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tamarco.core.messaging import MessagingSettingsError
from tamarco.core.settings.reader import SettingsReader

if TYPE_CHECKING:
    from tamarco.core.settings.settings import SettingsView

__all__ = ["DEFAULT_BOOTSTRAP_SERVERS", "KAFKA_SETTINGS_KEYS", "KafkaConfig"]

#: The keys of ``system.resources.<name>`` :meth:`KafkaConfig.from_settings` reads; the resource
#: adds them to the core's ``settings_keys``.
KAFKA_SETTINGS_KEYS: tuple[str, ...] = (
    "bootstrap_servers",
    "client_id",
    "group_id",
    "security_protocol",
    "sasl",
    "tls",
    "producer",
    "consumer",
    "auto_create_topics",
    "commit_interval_seconds",
    "revocation_timeout_seconds",
    "health_check_interval_seconds",
)

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_COMPRESSIONS = (None, "gzip", "snappy", "lz4", "zstd")
_OFFSET_RESETS = ("earliest", "latest")
_TLS_KEYS = ("enabled", "cafile", "certfile", "keyfile", "password", "check_hostname")

#: producer setting -> (type, aiokafka keyword)
_PRODUCER_INTS = ("linger_ms", "max_batch_size", "max_request_size", "request_timeout_ms", "retry_backoff_ms")
_CONSUMER_INTS = (
    "fetch_max_wait_ms",
    "fetch_min_bytes",
    "fetch_max_bytes",
    "max_partition_fetch_bytes",
    "max_poll_records",
    "max_poll_interval_ms",
    "session_timeout_ms",
    "heartbeat_interval_ms",
    "rebalance_timeout_ms",
    "request_timeout_ms",
)


@dataclass
class KafkaConfig:
    """What a :class:`~tamarco.resources.io.kafka.KafkaResource` reads from its settings."""

    bootstrap_servers: list[str] = field(default_factory=lambda: [DEFAULT_BOOTSTRAP_SERVERS])
    client_id: str = "tamarco"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None
    producer: dict[str, Any] = field(default_factory=dict)
    consumer: dict[str, Any] = field(default_factory=dict)
    auto_offset_reset: str = "earliest"
    auto_create_topics: bool = True
    commit_interval: float = 1.0
    revocation_timeout: float = 10.0
    health_check_interval: float = 2.0
    default_group: str | None = None

    @property
    def address(self) -> str:
        return ",".join(self.bootstrap_servers)

    def connection_kwargs(self) -> dict[str, Any]:
        """aiokafka keywords shared by producers, consumers and admin clients."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.ssl_context is not None:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password
        return kwargs

    def producer_kwargs(self) -> dict[str, Any]:
        return {**self.connection_kwargs(), **self.producer}

    def consumer_kwargs(self, group_id: str) -> dict[str, Any]:
        return {
            **self.connection_kwargs(),
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": self.auto_offset_reset,
            **self.consumer,
        }

    def describe(self) -> dict[str, Any]:
        """For ``/status``: no password, no key material."""
        info: dict[str, Any] = {
            "address": self.address,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism is not None:
            info["sasl_mechanism"] = self.sasl_mechanism
            info["username"] = self.sasl_username
        return info

    @classmethod
    def from_settings(cls, view: SettingsView | None, *, default_client_id: str = "tamarco") -> KafkaConfig:
        """Read and check ``system.resources.<name>`` (``view``); defaults where unset. Every
        wrong key is reported at once (one error naming each)."""
        reader = _Reader.of(view, error=MessagingSettingsError)
        config = cls()
        with reader.each():
            config.bootstrap_servers = reader.servers("bootstrap_servers")
        with reader.each():
            config.client_id = reader.text("client_id", default_client_id)
        with reader.each():
            config.default_group = reader.optional_text("group_id")
        with reader.each():
            reader.check_known("sasl", reader.mapping("sasl"), ("mechanism", "username", "password"))
        with reader.each():
            reader.check_known("tls", reader.mapping("tls"), _TLS_KEYS)
        with reader.each():
            sasl = reader.mapping("sasl")
            tls = reader.mapping("tls")
            protocol_default = ("SASL_" if sasl else "") + ("SSL" if tls.get("enabled", bool(tls)) else "PLAINTEXT")
            config.security_protocol = reader.choice("security_protocol", _SECURITY_PROTOCOLS, protocol_default)
            if config.security_protocol.startswith("SASL_"):
                if not sasl:
                    reader.fail("sasl", f"is required with security_protocol {config.security_protocol}")
                config.sasl_mechanism = reader.choice("sasl.mechanism", _SASL_MECHANISMS, "PLAIN")
                config.sasl_username = reader.required_text("sasl.username")
                config.sasl_password = reader.required_text("sasl.password", secret=True)
            if config.security_protocol.endswith("SSL"):
                config.ssl_context = _ssl_context(reader, tls)
        with reader.each():
            config.producer = reader.producer()
        with reader.each():
            config.consumer = reader.consumer()
        with reader.each():
            config.auto_offset_reset = reader.choice("consumer.auto_offset_reset", _OFFSET_RESETS, "earliest")
        with reader.each():
            config.auto_create_topics = reader.boolean("auto_create_topics", True)
        with reader.each():
            config.commit_interval = reader.seconds("commit_interval_seconds", 1.0)
        with reader.each():
            config.revocation_timeout = reader.seconds("revocation_timeout_seconds", 10.0)
        with reader.each():
            config.health_check_interval = reader.seconds("health_check_interval_seconds", 2.0)
        reader.raise_problems()
        return config


def _ssl_context(reader: _Reader, tls: Mapping[str, Any]) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    cafile = reader.optional_text("tls.cafile")
    certfile = reader.optional_text("tls.certfile")
    keyfile = reader.optional_text("tls.keyfile")
    password = reader.optional_text("tls.password")
    try:
        context = create_ssl_context(cafile=cafile, certfile=certfile, keyfile=keyfile, password=password)
    except (OSError, ssl.SSLError) as error:
        # The error names the file, never the key password.
        raise MessagingSettingsError(
            f"settings {reader.key('tls')}: cannot load the TLS files ({type(error).__name__}: "
            f"{getattr(error, 'strerror', None) or 'invalid certificate or key'}; "
            f"cafile={cafile!r}, certfile={certfile!r}, keyfile={keyfile!r})"
        ) from None
    context.check_hostname = bool(tls.get("check_hostname", True))
    return context


class _Reader(SettingsReader):
    """The core's settings reader, plus Kafka's own shapes (servers, producer/consumer keys)."""

    def servers(self, key: str) -> list[str]:
        value = self.get(key, DEFAULT_BOOTSTRAP_SERVERS)
        if isinstance(value, str):
            servers = [part.strip() for part in value.split(",") if part.strip()]
        elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            servers = [item.strip() for item in value if item.strip()]
        else:
            servers = []
        if not servers:
            raise MessagingSettingsError(
                f"setting {self.key(key)} must be 'host:port' or a comma-separated list of them, got {value!r}"
            )
        for server in servers:
            # A URL here may carry credentials: refuse it without quoting any of it.
            if "@" in server or "/" in server or any(char.isspace() for char in server):
                raise MessagingSettingsError(
                    f"setting {self.key(key)} takes 'host:port' entries, not URLs or user info (entry "
                    f"{servers.index(server) + 1} is not one); credentials go in {self.key('sasl.username')} "
                    f"and {self.key('sasl.password')}"
                )
        return servers

    def _ints(self, section: str, names: tuple[str, ...], known: tuple[str, ...]) -> dict[str, Any]:
        values = self.mapping(section)
        self.check_known(section, values, (*names, *known))
        return {name: self.whole(f"{section}.{name}", 0) for name in values if name in names}

    def producer(self) -> dict[str, Any]:
        result = self._ints("producer", _PRODUCER_INTS, ("acks", "compression_type"))
        acks = self.get("producer.acks", "all")
        if acks not in ("all", 0, 1, -1):
            raise MessagingSettingsError(f"setting {self.key('producer.acks')} must be all, 0 or 1, got {acks!r}")
        result["acks"] = acks
        compression = self.get("producer.compression_type", None)
        if compression not in _COMPRESSIONS:
            raise MessagingSettingsError(
                f"setting {self.key('producer.compression_type')} must be gzip, snappy, lz4 or zstd, "
                f"got {compression!r}"
            )
        result["compression_type"] = compression
        return result

    def consumer(self) -> dict[str, Any]:
        return self._ints("consumer", _CONSUMER_INTS, ("auto_offset_reset",))

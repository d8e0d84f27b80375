"""One Kafka record as the core's :class:`~tamarco.core.messaging.Delivery`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tamarco.core.messaging import MessagingError, Settlement

__all__ = ["KafkaDelivery", "decode_headers", "encode_headers"]


class KafkaDelivery:
    """A record handed to the consumer. Settling only records the outcome: the partition's
    worker turns it into an offset to commit (ack, reject) or a redelivery (nack)."""

    __slots__ = ("_headers", "outcome", "record", "redelivered")

    def __init__(self, record: Any, redelivered: bool = False) -> None:
        self.record = record
        self.redelivered = redelivered
        self._headers: dict[str, Any] | None = None
        self.outcome: Settlement | None = None

    @property
    def source(self) -> str:
        return self.record.topic  # type: ignore[no-any-return]

    @property
    def position(self) -> tuple[int, int]:
        """``(partition, offset)``."""
        return (self.record.partition, self.record.offset)

    @property
    def key(self) -> str | None:
        """The record's key as text (bytes where it is not UTF-8), or None."""
        key = self.record.key
        return _text(key) if key is not None else None

    @property
    def body(self) -> bytes:
        value = self.record.value
        if type(value) is bytes:  # what aiokafka gives: no copy
            return value
        return b"" if value is None else bytes(value)

    @property
    def headers(self) -> Mapping[str, object]:
        if self._headers is None:
            self._headers = decode_headers(self.record.headers)
        return self._headers

    @property
    def reply_to(self) -> str | None:
        return None

    @property
    def correlation_id(self) -> str | None:
        return None

    async def ack(self) -> None:
        if self.outcome is None:
            self.outcome = Settlement.ACKED

    async def nack(self, requeue: bool = True) -> None:
        if self.outcome is None:
            self.outcome = Settlement.REQUEUED if requeue else Settlement.REJECTED

    async def reply(self, body: bytes, *, headers: Mapping[str, object] | None = None) -> None:
        raise MessagingError(f"Kafka has no request/response (a message from {self.source!r})")

    def __repr__(self) -> str:
        record = self.record
        return f"<KafkaDelivery {record.topic}[{record.partition}]@{record.offset}>"


def _text(value: bytes) -> Any:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value)


def decode_headers(headers: Any) -> dict[str, Any]:
    """Kafka headers (``(name, bytes)`` pairs) as a dict of text (bytes where not UTF-8)."""
    return {name: (_text(value) if value is not None else None) for name, value in headers or ()}


def encode_headers(headers: Mapping[str, Any] | None) -> list[tuple[str, bytes]] | None:
    """A mapping of header values (text, bytes, numbers) as Kafka headers."""
    if not headers:
        return None
    encoded: list[tuple[str, bytes]] = []
    for name, value in headers.items():
        if isinstance(value, (bytes, bytearray)):
            encoded.append((str(name), bytes(value)))
        elif value is None:
            encoded.append((str(name), b""))
        else:
            encoded.append((str(name), str(value).encode("utf-8")))
    return encoded

"""What tracing hands out while it is off: one shared span that records nothing."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = ["NOOP_SPAN", "NoopSpan", "SpanKind"]


class SpanKind(str, enum.Enum):
    """The OpenTelemetry span kinds, usable without OpenTelemetry installed."""

    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class NoopSpan:
    """Has the methods of an OpenTelemetry span that Tamarco calls; each does nothing.

    Also a context manager (``with tracing.span(...) as span``) that leaves exceptions alone.
    """

    __slots__ = ()

    def is_recording(self) -> bool:
        return False

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def add_event(self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: int | None = None) -> None:
        pass

    def record_exception(self, exception: BaseException, attributes: Mapping[str, Any] | None = None) -> None:
        pass

    def set_status(self, status: Any, description: str | None = None) -> None:
        pass

    def end(self, end_time: int | None = None) -> None:
        pass

    def __enter__(self) -> NoopSpan:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        pass

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<no-op span: tracing is off>"


NOOP_SPAN = NoopSpan()

"""The codec interface and its errors."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Codec(Protocol):
    """What Tamarco needs from a codec. Built-in codecs are classes with static methods, so
    the class itself or an instance can be passed wherever a codec is expected."""

    def encode(self, obj: Any) -> bytes: ...

    def decode(self, data: bytes) -> Any: ...


class CodecError(ValueError):
    """Base class of codec failures."""


class DecodeError(CodecError):
    """A payload could not be decoded. ``payload`` holds the raw bytes, untouched."""

    def __init__(self, codec: str, payload: bytes, reason: str) -> None:
        preview = payload[:64]
        suffix = "..." if len(payload) > 64 else ""
        super().__init__(f"{codec} cannot decode {len(payload)} bytes ({preview!r}{suffix}): {reason}")
        self.codec = codec
        self.payload = payload
        self.reason = reason


class EncodeError(CodecError):
    """An object could not be encoded."""

    def __init__(self, codec: str, obj: Any, reason: str) -> None:
        super().__init__(f"{codec} cannot encode object of type {type(obj).__name__}: {reason}")
        self.codec = codec
        self.obj = obj
        self.reason = reason

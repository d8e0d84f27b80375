"""Plain text codec (UTF-8)."""

from __future__ import annotations

from typing import Any

from tamarco.codecs.interface import DecodeError, EncodeError


class StrCodec:
    """Text as UTF-8 bytes. Encoding accepts only ``str``."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        if not isinstance(obj, str):
            raise EncodeError("StrCodec", obj, "expected str")
        return obj.encode("utf-8")

    @staticmethod
    def decode(data: bytes) -> str:
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as error:
            raise DecodeError("StrCodec", bytes(data), str(error)) from error

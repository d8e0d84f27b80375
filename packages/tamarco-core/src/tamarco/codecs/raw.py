"""Raw bytes, untouched: what ``codec=None`` means on inputs and outputs (0.1 semantics)."""

from __future__ import annotations

from typing import Any

from tamarco.codecs.interface import EncodeError


class BytesCodec:
    """The payload as it is: ``decode`` gives the bytes that arrived, ``encode`` takes ``bytes``,
    ``bytearray`` or ``memoryview`` (text is refused: encode it yourself or use ``StrCodec``)."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        if isinstance(obj, bytes):
            return obj
        if isinstance(obj, (bytearray, memoryview)):
            return bytes(obj)
        raise EncodeError("BytesCodec", obj, "expected bytes (codec=None sends raw bytes; StrCodec encodes text)")

    @staticmethod
    def decode(data: bytes) -> bytes:
        return bytes(data)

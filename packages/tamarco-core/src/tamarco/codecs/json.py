"""JSON codec (UTF-8)."""

from __future__ import annotations

import json
from typing import Any

from tamarco.codecs.interface import DecodeError, EncodeError

# One encoder for every call: json.dumps with options builds a new JSONEncoder each time (2x slower).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_DECODER = json.JSONDecoder()


class JsonCodec:
    """JSON, UTF-8 encoded, compact separators."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        try:
            return _ENCODER.encode(obj).encode("utf-8")
        except (TypeError, ValueError) as error:
            raise EncodeError("JsonCodec", obj, str(error)) from error

    @staticmethod
    def decode(data: bytes) -> Any:
        try:
            if type(data) is bytes:
                try:
                    # UTF-8, what encode writes: straight to the decoder, without json.loads'
                    # encoding detection (half the cost of a small message); a BOM, UTF-16/32 or
                    # an error take json.loads' way below (same result, same error).
                    return _DECODER.decode(data.decode("utf-8"))
                except ValueError:
                    pass
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as error:
            raise DecodeError("JsonCodec", bytes(data), str(error)) from error

"""Pickle codec.

.. warning:: Unpickling runs arbitrary code. Never decode payloads from a source you do not
   fully trust (a shared broker, a public endpoint); prefer :class:`JsonCodec` there.
"""

from __future__ import annotations

import pickle
from typing import Any

from tamarco.codecs.interface import DecodeError, EncodeError


class PickleCodec:
    """Python pickle, highest protocol. Unsafe for untrusted input (see module docstring)."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise EncodeError("PickleCodec", obj, str(error)) from error

    @staticmethod
    def decode(data: bytes) -> Any:
        try:
            return pickle.loads(data)
        except Exception as error:  # pickle raises nearly anything on garbage input
            raise DecodeError("PickleCodec", bytes(data), f"{type(error).__name__}: {error}") from error

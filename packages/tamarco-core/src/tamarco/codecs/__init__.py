"""Codecs turn messages into bytes and back, behind one interface.

A codec has ``encode(obj) -> bytes`` and ``decode(data: bytes) -> obj``. Decoding failures raise
:class:`DecodeError`, which carries the raw payload so nothing is lost. Any object with those
two methods (see :class:`Codec`) can be plugged in where Tamarco takes a codec; ``codec=None``
means :class:`BytesCodec` (the raw bytes, as in 0.1).
"""

from tamarco.codecs.interface import Codec, CodecError, DecodeError, EncodeError
from tamarco.codecs.json import JsonCodec
from tamarco.codecs.pickle import PickleCodec
from tamarco.codecs.raw import BytesCodec
from tamarco.codecs.str import StrCodec
from tamarco.codecs.yaml import YamlCodec

__all__ = [
    "BytesCodec",
    "Codec",
    "CodecError",
    "DecodeError",
    "EncodeError",
    "JsonCodec",
    "PickleCodec",
    "StrCodec",
    "YamlCodec",
]

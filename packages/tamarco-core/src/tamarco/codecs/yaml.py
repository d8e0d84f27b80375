"""YAML codec (safe loader and dumper only)."""

from __future__ import annotations

from typing import Any

from tamarco.codecs.interface import DecodeError, EncodeError

# PyYAML is imported on first use: every service imports the codecs, few use this one.


class YamlCodec:
    """YAML through PyYAML's safe loader/dumper: no arbitrary objects are built."""

    @staticmethod
    def encode(obj: Any) -> bytes:
        import yaml

        try:
            return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False).encode("utf-8")
        except yaml.YAMLError as error:
            raise EncodeError("YamlCodec", obj, str(error)) from error

    @staticmethod
    def decode(data: bytes) -> Any:
        import yaml

        try:
            return yaml.safe_load(data)
        except (UnicodeDecodeError, yaml.YAMLError) as error:
            raise DecodeError("YamlCodec", bytes(data), str(error)) from error

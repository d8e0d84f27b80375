"""JSON Schemas of payload types gathered under one document's ``components.schemas``."""

from __future__ import annotations

from typing import Any

from tamarco.core.payloads import PayloadType

__all__ = ["SchemaRegistry"]


class SchemaRegistry:
    """Collects the schemas of payload types for ``components.schemas``, nested types included,
    every reference pointing there (``#/components/schemas/<name>``)."""

    REF_TEMPLATE = "#/components/schemas/{model}"

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}
        self._names: dict[Any, str] = {}

    def ref(self, kind: PayloadType) -> dict[str, str]:
        """``{"$ref": ...}`` to the schema of ``kind`` (added on first use)."""
        name = self._names.get(kind.annotation)
        if name is None:
            schema = dict(kind.json_schema(self.REF_TEMPLATE))
            for nested, nested_schema in schema.pop("$defs", {}).items():
                self.schemas.setdefault(nested, nested_schema)
            name = self._unique(kind.name, schema)
            self.schemas[name] = schema
            self._names[kind.annotation] = name
        return {"$ref": f"#/components/schemas/{name}"}

    def _unique(self, name: str, schema: dict[str, Any]) -> str:
        candidate, number = name, 1
        while candidate in self.schemas and self.schemas[candidate] != schema:
            number += 1
            candidate = f"{name}{number}"
        return candidate

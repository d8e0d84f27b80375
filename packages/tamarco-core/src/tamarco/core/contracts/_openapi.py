"""The OpenAPI 3.1 document of a service: the paths of each resource that serves HTTP routes.

Core knows no HTTP framework: a resource describes its own routes by implementing
:class:`DescribesOpenAPI` (tamarco-http's ``HTTPServerResource`` does).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from tamarco.core.contracts._schemas import SchemaRegistry
from tamarco.core.contracts._service import ContractError, service_info

__all__ = ["OPENAPI_VERSION", "DescribesOpenAPI", "openapi_document"]

OPENAPI_VERSION = "3.1.0"


@runtime_checkable
class DescribesOpenAPI(Protocol):
    """A resource serving HTTP routes that can describe them."""

    def openapi_paths(self, schemas: SchemaRegistry) -> dict[str, Any]:
        """The OpenAPI ``paths`` object of its routes; payload types go through ``schemas``."""
        ...


def openapi_document(service: Any, resource: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of the HTTP routes of ``service`` (of its resource named
    ``resource``, or of every resource that describes routes)."""
    schemas = SchemaRegistry()
    paths: dict[str, Any] = {}
    described = {
        name: found
        for name, found in service.resources.items()
        if isinstance(found, DescribesOpenAPI) and (resource is None or name == resource)
    }
    if resource is not None and not described:
        raise ContractError(f"service {service.name} has no HTTP server resource named {resource!r}")
    for name in sorted(described):
        for path, item in described[name].openapi_paths(schemas).items():
            paths.setdefault(path, {}).update(item)
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": service_info(service), "paths": paths}
    if schemas.schemas:
        document["components"] = {"schemas": dict(sorted(schemas.schemas.items()))}
    return document

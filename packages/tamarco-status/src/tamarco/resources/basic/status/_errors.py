"""Exceptions of the status resource. Each names the setting or resource involved."""

from __future__ import annotations

from collections.abc import Iterable

from tamarco.core.errors import MicroserviceError


class StatusSettingsError(MicroserviceError, ValueError):
    """A setting of the status resource (or of a debug resource) is invalid; names the key."""


class UnknownPolicyResource(StatusSettingsError):
    """A restart policy or ``critical_resources`` names a resource the service does not have."""

    def __init__(self, key: str, resource: str, service: str | None, available: Iterable[str]) -> None:
        super().__init__(
            f"setting {key} names {resource!r}, which is not a resource of service {service!r} "
            f"(resources: {', '.join(sorted(available)) or 'none'})"
        )
        self.key = key
        self.resource = resource

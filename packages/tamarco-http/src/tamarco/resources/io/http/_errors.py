"""Exceptions of the HTTP resources. Each names the resource, setting or address involved."""

from __future__ import annotations

__all__ = [
    "HTTPResourceError",
    "HTTPSettingsError",
    "RoutesFrozenError",
    "ServerBindError",
]


class HTTPResourceError(Exception):
    """Base class of the errors raised by the tamarco-http resources."""


class HTTPSettingsError(HTTPResourceError, ValueError):
    """A setting of an HTTP resource is missing or invalid. The message names the full key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"setting {key}: {reason}")
        self.key = key
        self.reason = reason


class ServerBindError(HTTPResourceError, OSError):
    """A server could not listen on its address (typically: the port is already in use)."""

    def __init__(self, resource: str, host: str, port: int, error: OSError) -> None:
        super().__init__(f"resource {resource!r} cannot listen on {host}:{port}: {error.strerror or error}")
        self.resource = resource
        self.host = host
        self.port = port
        self.errno = error.errno


class RoutesFrozenError(HTTPResourceError, RuntimeError):
    """A route was added to a server that has already started."""

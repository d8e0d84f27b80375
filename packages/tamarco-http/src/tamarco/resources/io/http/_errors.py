"""Exceptions of the HTTP resources. Each names the resource, setting or address involved."""

from __future__ import annotations

import errno

from tamarco.core.errors import ExpectedStartFailure

__all__ = [
    "HTTPResourceError",
    "HTTPSettingsError",
    "RoutesFrozenError",
    "ServerBindError",
]


class HTTPResourceError(Exception):
    """Base class of the errors raised by the tamarco-http resources."""


class HTTPSettingsError(HTTPResourceError, ExpectedStartFailure, ValueError):
    """A setting of an HTTP resource is missing or invalid. The message names the full key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"setting {key}: {reason}")
        self.key = key
        self.reason = reason


class ServerBindError(HTTPResourceError, ExpectedStartFailure, OSError):
    """A server could not listen on its address (typically: the port is already in use).

    The message names the address, the setting (``key``, e.g. ``system.resources.http.port``)
    and what to do.
    """

    def __init__(self, resource: str, host: str, port: int, error: OSError, key: str | None = None) -> None:
        key = key or f"system.resources.{resource}.port"
        if error.errno == errno.EADDRINUSE:
            reason = (
                f"{host}:{port} is already in use: stop the process listening there, "
                f"or set {key} to a free port (0 picks one)"
            )
        elif error.errno == errno.EACCES:
            reason = f"{host}:{port} needs privileges: set {key} to a port above 1023 (0 picks one)"
        else:
            reason = f"cannot listen on {host}:{port} ({error.strerror or error}): check {key} and the host beside it"
        super().__init__(f"resource {resource!r}: {reason}")
        self.key = key
        self.resource = resource
        self.host = host
        self.port = port
        self.errno = error.errno


class RoutesFrozenError(HTTPResourceError, RuntimeError):
    """A route was added to a server that has already started."""

"""Exceptions raised by the harness. Every message names the service and what to do."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness raises."""


class BinaryNotFoundError(HarnessError):
    """A service binary is not installed; the message names the package that provides it."""

    def __init__(self, service: str, binary: str, install_hint: str) -> None:
        self.service = service
        self.binary = binary
        self.install_hint = install_hint
        super().__init__(f"{service}: binary {binary!r} not found; install it with: {install_hint}")


class ServiceStartError(HarnessError):
    """A service died or did not become ready; the message ends with the tail of its log."""

    def __init__(self, service: str, reason: str, log_tail: str = "") -> None:
        self.service = service
        self.reason = reason
        self.log_tail = log_tail
        message = f"{service}: {reason}"
        if log_tail:
            message += f"\n--- last lines of the {service} log ---\n{log_tail}"
        super().__init__(message)


class PortInUseError(HarnessError):
    """A port the harness must (re)bind is held by another process."""

    def __init__(self, service: str, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        super().__init__(
            f"{service}: {host}:{port} is already bound by another process; "
            "refusing to start (a ready check would pass against the wrong server)"
        )


class DockerUnavailableError(HarnessError):
    """The docker backend was requested but no Docker engine (or client library) answers."""

"""The errors of talking to etcd. Messages name the address and the variable, never a password."""

from __future__ import annotations

from tamarco.core.settings.errors import SettingsError

__all__ = [
    "EtcdCheckKeyTimeout",
    "EtcdConfigurationError",
    "EtcdError",
    "EtcdUnavailableError",
    "describe_error",
]


class EtcdError(SettingsError):
    """An etcd operation failed. The message names the address, never the password."""


class EtcdUnavailableError(EtcdError):
    """etcd could not be reached (at start: within the startup timeout)."""


class EtcdConfigurationError(EtcdError, ValueError):
    """A ``TAMARCO_ETCD_*`` variable is invalid; the message names it."""


class EtcdCheckKeyTimeout(EtcdError):
    """``ETCD_CHECK_KEY`` did not appear within ``TAMARCO_ETCD_CHECK_TIMEOUT``."""


def describe_error(error: BaseException) -> str:
    """A short description of an etcd error (grpc details, not the whole status dump)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

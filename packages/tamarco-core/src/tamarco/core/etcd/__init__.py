"""The etcd connection every part of Tamarco shares: the settings backend, the registry and
``tamarco etcd`` go through this API and nothing else.

- **Configuration**: :class:`EtcdConnectionConfig` from the ``TAMARCO_ETCD_*`` variables
  (host, port, user and password, TLS files, key prefix, timeouts, ``ETCD_CHECK_KEY``).
- **The client**: :class:`TamarcoEtcdClient` (``config.client()``), aetcd's client plus TLS,
  a deadline on every request and a ``close()`` that never hangs.
- **Deadlines and retries**: :func:`request` bounds one request, :func:`retry_until` retries
  with :class:`Backoff` until a deadline, :func:`within` is the cancel-safe bounded wait under
  both, :func:`close_quietly` closes a client that may be broken.
- **Key mapping**: dotted settings keys ↔ ``/``-joined etcd keys with JSON values
  (:func:`etcd_key`, :func:`settings_key`, :func:`flatten`, :func:`tree_from_pairs`...), and
  :class:`EtcdSettingsStore`, settings-shaped reads and transactional writes.
- **Errors**: :class:`EtcdError` and its subclasses name the address and the variable involved,
  never a password.

aetcd and grpc cost a service ~20 ms and ~11 MiB at import, and most services never talk to
etcd: importing this package does not import them. The names that need them
(:class:`TamarcoEtcdClient`, :class:`EtcdSettingsStore`, :func:`request`, :func:`retry_until`,
:func:`close_quietly`, :data:`RETRYABLE_ERRORS`) import them on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tamarco.core.etcd._config import GRPC_OPTIONS, EtcdConnectionConfig
from tamarco.core.etcd._deadlines import Backoff, request_bound, within
from tamarco.core.etcd._errors import (
    EtcdCheckKeyTimeout,
    EtcdConfigurationError,
    EtcdError,
    EtcdUnavailableError,
    describe_error,
)
from tamarco.core.etcd._mapping import (
    decode_value,
    encode_value,
    etcd_key,
    flatten,
    normalize_namespace,
    prefix_range_end,
    settings_key,
    tree_from_pairs,
)
from tamarco.core.extras import missing_extra

if TYPE_CHECKING:
    from tamarco.core.etcd._client import RETRYABLE_ERRORS, TamarcoEtcdClient, close_quietly, request
    from tamarco.core.etcd._retry import retry_until
    from tamarco.core.etcd._store import EtcdSettingsStore

__all__ = [
    "GRPC_OPTIONS",
    "RETRYABLE_ERRORS",
    "Backoff",
    "EtcdCheckKeyTimeout",
    "EtcdConfigurationError",
    "EtcdConnectionConfig",
    "EtcdError",
    "EtcdSettingsStore",
    "EtcdUnavailableError",
    "TamarcoEtcdClient",
    "close_quietly",
    "decode_value",
    "describe_error",
    "encode_value",
    "etcd_key",
    "flatten",
    "normalize_namespace",
    "prefix_range_end",
    "request",
    "request_bound",
    "retry_until",
    "settings_key",
    "tree_from_pairs",
    "within",
]

#: Public names whose modules import aetcd: imported on first access (PEP 562).
_LAZY = {
    "RETRYABLE_ERRORS": "_client",
    "TamarcoEtcdClient": "_client",
    "close_quietly": "_client",
    "request": "_client",
    "retry_until": "_retry",
    "EtcdSettingsStore": "_store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        imported = importlib.import_module(f"{__name__}.{module}")
    except ImportError as error:
        raise missing_extra(error, f"tamarco.core.etcd.{name}") from error
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

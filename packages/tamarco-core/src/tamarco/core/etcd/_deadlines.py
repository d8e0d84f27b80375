"""The deadline of one etcd request; the bounded waits and backoff are
:mod:`tamarco.core.deadlines` (re-exported here, where they were first)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tamarco.core.deadlines import AwaitableCancelled, Backoff, within

if TYPE_CHECKING:
    from tamarco.core.etcd._config import EtcdConnectionConfig

__all__ = ["AwaitableCancelled", "Backoff", "request_bound", "within"]


def request_bound(config: EtcdConnectionConfig) -> float:
    """The most one request may take, seen from the caller: connecting (and authenticating)
    and then the request, each with the ``TAMARCO_ETCD_TIMEOUT`` deadline, plus a margin."""
    return 2 * config.request_timeout + 1.0

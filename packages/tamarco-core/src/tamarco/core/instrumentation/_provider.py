"""Which implementation records: found once, lazily, through the ``tamarco.instrumentation``
entry points (tamarco-metrics declares one), or set explicitly."""

from __future__ import annotations

import logging
import threading
from typing import Any

from tamarco.core.entry_points import entry_points
from tamarco.core.instrumentation._api import MeterProvider
from tamarco.core.instrumentation._noop import NOOP_PROVIDER

__all__ = ["ENTRY_POINT_GROUP", "get_provider", "reset_provider", "set_provider"]

logger = logging.getLogger("tamarco.instrumentation")

#: The entry-point group an implementation registers in: ``name = "module:factory"``, where
#: ``factory()`` returns a :class:`MeterProvider`.
ENTRY_POINT_GROUP = "tamarco.instrumentation"

_lock = threading.Lock()
_provider: Any = None  # None: not looked up yet


def get_provider() -> MeterProvider:
    """The installed implementation (looked up at the first call), or the no-op one."""
    provider = _provider
    if provider is None:
        with _lock:
            provider = _provider if _provider is not None else _load()
    return provider  # type: ignore[no-any-return]


def set_provider(provider: MeterProvider | None) -> None:
    """Use ``provider`` from now on (``None``: record nothing). Instruments created before keep
    the implementation they were created with."""
    global _provider
    if provider is not None and not isinstance(provider, MeterProvider):
        raise TypeError(f"{provider!r} does not implement tamarco.core.instrumentation.MeterProvider")
    with _lock:
        _provider = provider if provider is not None else NOOP_PROVIDER


def reset_provider() -> None:
    """Forget the provider: the next instrument looks the entry points up again (tests)."""
    global _provider
    with _lock:
        _provider = None


def _load() -> Any:
    global _provider
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda entry_point: entry_point.name)
    provider: Any = NOOP_PROVIDER
    if len(found) > 1:
        logger.warning(
            "several instrumentation implementations installed (%s): using %s",
            ", ".join(f"{entry_point.name} = {entry_point.value}" for entry_point in found),
            found[0].value,
        )
    if found:
        entry_point = found[0]
        try:
            candidate = entry_point.load()()
        except Exception:
            logger.exception(
                "instrumentation implementation %s = %s failed to load: meters record nothing",
                entry_point.name,
                entry_point.value,
            )
        else:
            if isinstance(candidate, MeterProvider):
                provider = candidate
            else:
                logger.error(
                    "instrumentation implementation %s = %s is not a MeterProvider: meters record nothing",
                    entry_point.name,
                    entry_point.value,
                )
    _provider = provider
    return provider

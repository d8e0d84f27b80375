"""The interface between :class:`~tamarco.core.settings.settings.Settings` and a backend."""

from __future__ import annotations

import abc
from typing import Any, Protocol


class _EmptyArg:
    """Marker for "no default given" (kept under the reference's name)."""


class SettingsSink(Protocol):
    """What a backend reports changes to (the Settings object).

    ``value`` is :data:`tamarco.core.settings.keys.MISSING` for a deletion.
    """

    async def external_changed(self, key: str, value: Any) -> None: ...

    async def external_reloaded(self, tree: dict[str, Any]) -> None: ...


class SettingsBackend(abc.ABC):
    """An external settings source.

    ``load`` returns the whole tree once at start. Backends that can push changes (etcd)
    implement ``watch``: from then on they report every change to the sink, and after a
    reconnection they report the whole tree again with ``external_reloaded`` so that nothing
    changed during an outage is missed.
    """

    #: A short description for logs and errors, never containing credentials.
    description: str = "settings backend"

    @abc.abstractmethod
    async def load(self) -> dict[str, Any]:
        """Read the whole settings tree."""

    async def set(self, key: str, value: Any) -> None:  # noqa: B027 - optional
        """Store a value (default: the change lives only in this process's cache)."""

    async def delete(self, key: str) -> None:  # noqa: B027 - optional
        """Delete a key and everything under it (default: only in this process's cache)."""

    async def watch(self, sink: SettingsSink) -> None:  # noqa: B027 - optional
        """Start reporting external changes to ``sink``. Default: the source never changes."""

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections and stop watching."""

"""The Settings object and the views resources get of it.

Layers, lowest precedence first:

1. the internal dict (defaults given in code with :meth:`Settings.update_internal`);
2. the external source: a YAML/JSON file (``TAMARCO_YML_FILE``) or etcd
   (``TAMARCO_ETCD_HOST``), loaded by :meth:`Settings.start`;
3. the environment: ``TAMARCO__SYSTEM__RESOURCES__HTTP__PORT=8081`` sets
   ``system.resources.http.port`` (:mod:`tamarco.core.settings.environment`), read by
   :meth:`Settings.start`.

They are deep-merged (the later layer wins at every depth). Then, for the service named
``name``, everything under ``system.microservices.<name>`` is merged over ``system``, so
``system.microservices.dog.logging.profile`` is what ``system.logging.profile`` reads in the
service ``dog``. A per-service key wins over a general key whichever layer each comes from:
the more specific setting is the one meant.

Changes (``set``, ``delete``, or pushed by etcd) update the cache at once and call the
watchers of every key whose *effective* value changed, with ``(key, value)`` or
``(key, None)`` when the key is gone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tamarco.core.extras import missing_extra
from tamarco.core.patterns.proxy import Proxy
from tamarco.core.settings import keys
from tamarco.core.settings.backends.file import FileSettingsBackend
from tamarco.core.settings.backends.interface import SettingsBackend, _EmptyArg
from tamarco.core.settings.environment import settings_from_environment
from tamarco.core.settings.errors import (
    SettingNotFound,
    SettingsError,
    SettingsNotLoadedYet,
    SettingTypeError,
)

ROOT_SETTINGS = "system"

logger = logging.getLogger("tamarco.settings")

WatchCallback = Callable[[str, Any], Awaitable[None] | None]


class Settings:
    """The settings of one microservice. Create one per service; nothing is shared globally."""

    def __init__(
        self,
        microservice_name: str | None = None,
        backend: SettingsBackend | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.microservice_name = microservice_name
        self.backend = backend
        self._environ = environ
        self._internal: dict[str, Any] = {}
        self._external: dict[str, Any] = {}
        self._environment: dict[str, Any] = {}
        self._effective: dict[str, Any] | None = None
        self._watchers: dict[str, list[WatchCallback]] = {}
        self._promised: list[tuple[str, SettingProxy]] = []
        self.loaded = False

    # -- lifecycle -----------------------------------------------------------------------

    async def bind(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Kept for compatibility with 0.1: settings use the running loop."""

    async def start(self) -> None:
        """Load the external source, resolve promised settings, start watching for changes."""
        self._environment = settings_from_environment(self.environ)
        self._effective = None
        if self.backend is None:
            self.backend = backend_from_environment(self.environ)
        if self.backend is not None:
            logger.debug("loading settings from %s", self.backend.description)
            tree = await self.backend.load()
            self._external = tree
            self._effective = None
        self.loaded = True
        for key, proxy in self._promised:
            self._resolve_promise(key, proxy)
        if self.backend is not None:
            await self.backend.watch(self)

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment these settings read (``os.environ`` unless one was given)."""
        return self._environ if self._environ is not None else os.environ

    def source_status(self) -> dict[str, Any]:
        """The external source and whether it is followed: ``{"source", "state"}``, ``state``
        being ``ok``, ``degraded`` (a lost connection: the cached settings are served; with
        ``degraded_since`` and ``reason``) or ``none`` (internal settings only)."""
        if self.backend is None:
            return {"source": None, "state": "none"}
        since = getattr(self.backend, "degraded_since", None)
        if since is None:
            return {"source": self.backend.description, "state": "ok"}
        return {
            "source": self.backend.description,
            "state": "degraded",
            "degraded_since": round(float(since), 3),
            "reason": getattr(self.backend, "degraded_reason", None),
        }

    async def stop(self) -> None:
        """Stop watching and release the backend's connections."""
        if self.backend is not None:
            await self.backend.close()

    # -- reading -------------------------------------------------------------------------

    @property
    def effective(self) -> dict[str, Any]:
        """The merged tree every read sees (computed once per change)."""
        if self._effective is None:
            self._effective = self._compute_effective(self._internal, self._external)
        return self._effective

    def _compute_effective(self, internal: Mapping[str, Any], external: Mapping[str, Any]) -> dict[str, Any]:
        merged = keys.deep_merge(keys.deep_merge(internal, external), self._environment)
        system = merged.get(ROOT_SETTINGS)
        if self.microservice_name and isinstance(system, dict):
            override = keys.get_in(system, ["microservices", self.microservice_name])
            if isinstance(override, dict) and override:
                merged[ROOT_SETTINGS] = keys.deep_merge(system, override)
        return merged

    def get_nowait(self, key: str, default: Any = _EmptyArg, *, expect: Any = None) -> Any:
        """Synchronous :meth:`get` (reads the cache, never does I/O)."""
        value = keys.get_in(self.effective, keys.split_key(key))
        if value is keys.MISSING:
            if default is _EmptyArg:
                raise SettingNotFound(key)
            return default
        if expect is not None and not _matches(value, expect):
            raise SettingTypeError(key, expect, value)
        return value

    async def get(self, key: str, default: Any = _EmptyArg, *, expect: Any = None) -> Any:
        """The value of ``key``; ``default`` if missing, else :class:`SettingNotFound`.

        ``expect`` (a type or tuple of types) checks the value and raises
        :class:`SettingTypeError` naming the key when it does not match.
        """
        return self.get_nowait(key, default, expect=expect)

    async def get_external(self, key: str, default: Any = _EmptyArg) -> Any:
        """Re-read the external source, update the cache with it, and return ``key``."""
        if self.backend is not None:
            await self.external_reloaded(await self.backend.load())
        return await self.get(key, default)

    # -- writing -------------------------------------------------------------------------

    def update_internal(self, dict_settings: Mapping[str, Any]) -> None:
        """Deep-merge ``dict_settings`` into the internal defaults (new values win)."""
        if not isinstance(dict_settings, Mapping):
            raise TypeError(f"update_internal takes a dict, not {type(dict_settings).__name__}")
        self._internal = keys.deep_merge(self._internal, dict_settings)
        self._effective = None

    async def update_internal_settings(self, key: str, value: Any) -> None:
        """Set one internal value and notify the watchers."""
        await self._change(lambda: keys.set_in(self._internal, keys.split_key(key), value))

    async def set(self, key: str, value: Any) -> None:
        """Set a value in the external source (or the internal dict when there is none)."""
        parts = keys.split_key(key)
        if self.backend is not None:
            await self.backend.set(key, value)
            await self._change(lambda: keys.set_in(self._external, parts, value))
        else:
            await self._change(lambda: keys.set_in(self._internal, parts, value))

    async def delete(self, key: str) -> None:
        """Delete ``key`` and everything under it, from every layer."""
        parts = keys.split_key(key)
        if self.backend is not None:
            await self.backend.delete(key)

        def apply() -> None:
            keys.delete_in(self._external, parts)
            keys.delete_in(self._internal, parts)

        await self._change(apply)

    async def external_changed(self, key: str, value: Any) -> None:
        """Called by the backend when the source changed (``value`` MISSING: deleted)."""
        parts = keys.split_key(key)
        if value is keys.MISSING:
            await self._change(lambda: keys.delete_in(self._external, parts))
        else:
            await self._change(lambda: keys.set_in(self._external, parts, value))

    async def external_reloaded(self, tree: dict[str, Any]) -> None:
        """Called by the backend with the whole tree (after a reconnection, or a re-read)."""

        def apply() -> None:
            self._external = tree

        await self._change(apply)

    async def _change(self, apply: Callable[[], Any]) -> None:
        before = self.effective
        apply()
        self._effective = None
        if not self._watchers:
            return
        changes = keys.diff_leaves(before, self.effective)
        for changed_key, value in changes:
            for watched, callbacks in list(self._watchers.items()):
                if keys.is_under(changed_key, watched):
                    reported = None if value is keys.MISSING else value
                    for callback in list(callbacks):
                        await _call_watcher(callback, changed_key, reported)

    # -- watching ------------------------------------------------------------------------

    async def watch(self, key: str, callback: WatchCallback) -> None:
        """Call ``callback(key, value)`` (sync or async) whenever ``key`` or a key under it
        changes its effective value; ``value`` is None when the key was deleted."""
        keys.split_key(key)
        self._watchers.setdefault(key, []).append(callback)

    async def unwatch(self, key: str, callback: WatchCallback) -> None:
        """Remove a callback registered with :meth:`watch`."""
        callbacks = self._watchers.get(key, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            self._watchers.pop(key, None)

    async def watch_and_update(self, key: str) -> None:
        """Kept for 0.1 compatibility: the cache always follows the external source."""

    async def cancel_watch_tasks(self) -> None:
        """Remove every watcher."""
        self._watchers.clear()

    # -- promised settings ---------------------------------------------------------------

    def register_promised_setting(self, key: str, promised_setting: SettingProxy) -> None:
        """Resolve ``promised_setting`` with the value of ``key`` once the settings load."""
        self._promised.append((key, promised_setting))
        if self.loaded:
            self._resolve_promise(key, promised_setting)

    def promise(self, key: str, default: Any = _EmptyArg) -> SettingProxy:
        """A proxy standing for the value of ``key``, usable once the settings are loaded."""
        proxy = SettingProxy(key, default)
        self.register_promised_setting(key, proxy)
        return proxy

    def _resolve_promise(self, key: str, proxy: SettingProxy) -> None:
        proxy._obj = self.get_nowait(key, proxy._default)


class _NotLoaded:
    def __init__(self, key: str) -> None:
        self.key = key

    def __getattr__(self, name: str) -> Any:
        raise SettingsNotLoadedYet(f"setting {self.key} is used before the settings were loaded")


class SettingProxy(Proxy):
    """A setting promised before the settings load (see :meth:`Settings.promise`)."""

    __slots__ = ("_default", "_key")

    def __init__(self, key: str, default: Any = _EmptyArg) -> None:
        super().__init__(_NotLoaded(key))
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_default", default)

    @property
    def resolved(self) -> bool:
        return not isinstance(object.__getattribute__(self, "_obj"), _NotLoaded)

    @property
    def value(self) -> Any:
        obj = object.__getattribute__(self, "_obj")
        if isinstance(obj, _NotLoaded):
            raise SettingsNotLoadedYet(f"setting {obj.key} is used before the settings were loaded")
        return obj

    def __eq__(self, other: object) -> bool:
        return bool(self.value == (other.value if isinstance(other, SettingProxy) else other))

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        obj = object.__getattribute__(self, "_obj")
        state = "not loaded" if isinstance(obj, _NotLoaded) else repr(obj)
        return f"SettingProxy({object.__getattribute__(self, '_key')!r}: {state})"


class SettingsView:
    """The settings seen from ``prefix`` down: what a resource gets as ``self.settings``.

    Keys are relative to the prefix; ``raw=True`` takes them as absolute keys instead.
    """

    def __init__(self, settings: Settings, prefix: str, microservice_name: str | None = None) -> None:
        self.settings = settings
        self.prefix = prefix
        self.microservice_name = microservice_name or settings.microservice_name

    def full_key(self, key: str | None = None, raw: bool = False) -> str:
        """The absolute key for ``key`` (``None`` or ``""``: the prefix itself)."""
        if raw:
            return key or ""
        return keys.join_key(self.prefix, key or "")

    def get_nowait(
        self, key: str | None = None, default: Any = _EmptyArg, raw: bool = False, *, expect: Any = None
    ) -> Any:
        return self.settings.get_nowait(self.full_key(key, raw), default, expect=expect)

    async def get(
        self, key: str | None = None, default: Any = _EmptyArg, raw: bool = False, *, expect: Any = None
    ) -> Any:
        return self.settings.get_nowait(self.full_key(key, raw), default, expect=expect)

    async def set(self, key: str, value: Any, raw: bool = False) -> None:
        await self.settings.set(self.full_key(key, raw), value)

    async def delete(self, key: str, raw: bool = False) -> None:
        await self.settings.delete(self.full_key(key, raw))

    async def watch(self, key: str | None, callback: WatchCallback, raw: bool = False) -> None:
        await self.settings.watch(self.full_key(key, raw), callback)

    async def unwatch(self, key: str | None, callback: WatchCallback, raw: bool = False) -> None:
        await self.settings.unwatch(self.full_key(key, raw), callback)

    async def update_internal_settings(self, key: str, value: Any) -> None:
        await self.settings.update_internal_settings(self.full_key(key), value)

    async def cancel_watch_tasks(self) -> None:
        for watched in list(self.settings._watchers):
            if keys.is_under(watched, self.prefix):
                self.settings._watchers.pop(watched, None)

    def __repr__(self) -> str:
        return f"SettingsView({self.prefix!r})"


def _matches(value: Any, expect: Any) -> bool:
    expected = expect if isinstance(expect, tuple) else (expect,)
    if isinstance(value, bool) and bool not in expected:
        return False  # True is not an int port
    if float in expected and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, expected)


async def _call_watcher(callback: WatchCallback, key: str, value: Any) -> None:
    try:
        result = callback(key, value)
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("settings watcher %r failed for key %s", callback, key)


def backend_from_environment(environ: Mapping[str, str]) -> SettingsBackend | None:
    """The external backend selected by the environment: etcd, a file, or none."""
    if environ.get("TAMARCO_ETCD_HOST"):
        try:
            from tamarco.core.settings.backends.etcd import EtcdSettingsBackend
        except ImportError as error:
            raise SettingsError(
                f"TAMARCO_ETCD_HOST is set but the etcd backend is unavailable: {missing_extra(error, 'etcd settings')}"
            ) from error
        return EtcdSettingsBackend.from_environment(environ)
    if environ.get("TAMARCO_YML_FILE"):
        return FileSettingsBackend(environ["TAMARCO_YML_FILE"])
    return None

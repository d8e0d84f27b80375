"""Configure the standard library's logging from ``system.logging``.

Tamarco only configures loggers; code logs with the standard ``logging`` module. The loggers
configured are the service's (named after the service), ``tamarco`` (the framework and its
resources), the service's ``extra_loggers_names`` and the resources' ``loggers_names``.

Before the settings are loaded a provisional stdout configuration is in place, so errors while
loading settings are visible.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from typing import Any

from tamarco.core.settings.settings import SettingsView

PROFILES = {"DEVELOP": logging.DEBUG, "PRODUCTION": logging.INFO}
DEFAULT_PROFILE = "PRODUCTION"
HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LoggingSettingsError(ValueError):
    """A ``system.logging`` setting is invalid; the message names it."""


class Logging:
    """Owns the handlers Tamarco installs on the configured loggers."""

    def __init__(self) -> None:
        self.settings: SettingsView | None = None
        self.loggers_names: list[str] = []
        self.microservice_name: str | None = None
        self.deploy_name: str | None = None
        self.handlers: list[logging.Handler] = []
        self.level = PROFILES[DEFAULT_PROFILE]

    @staticmethod
    def describe_static_settings() -> dict[str, str]:
        return {
            "profile": "DEVELOP (debug level) or PRODUCTION (info level); default PRODUCTION",
            "stdout": "log to stdout (default true)",
            "file_path": "log to this file with a rotating handler",
        }

    @staticmethod
    def describe_dynamic_settings() -> dict[str, str]:
        return {"profile": "applied live when it changes"}

    def configure_settings(self, settings: SettingsView) -> None:
        """Set the settings view (``system.logging``)."""
        self.settings = settings

    def configure_provisional(self, loggers: Iterable[str]) -> None:
        """Stdout at info level until the real settings are read."""
        self.loggers_names = _unique(loggers)
        self._install([_stdout_handler()], logging.INFO)

    async def start(self, loggers: Iterable[str], microservice_name: str, deploy_name: str | None, loop: Any = None) -> None:
        """Configure the loggers from the settings."""
        self.loggers_names = _unique(loggers)
        self.microservice_name = microservice_name
        self.deploy_name = deploy_name
        await self.reconfigure()

    async def reconfigure(self) -> None:
        """(Re)build handlers and level from the current settings."""
        level = self.profile_level(await self._get("profile", DEFAULT_PROFILE))
        handlers: list[logging.Handler] = []
        if _as_bool(await self._get("stdout", True), "system.logging.stdout"):
            handlers.append(_stdout_handler())
        file_path = await self._get("file_path", None)
        if file_path:
            handler = logging.handlers.RotatingFileHandler(
                str(file_path),
                maxBytes=int(await self._get("file_max_bytes", 10 * 1024 * 1024)),
                backupCount=int(await self._get("file_backup_count", 5)),
            )
            handler.setFormatter(logging.Formatter(HUMAN_FORMAT))
            handlers.append(handler)
        self._install(handlers, level)

    @staticmethod
    def profile_level(profile: Any) -> int:
        if profile not in PROFILES:
            raise LoggingSettingsError(
                f"setting system.logging.profile is {profile!r}; allowed values: {', '.join(PROFILES)}"
            )
        return PROFILES[profile]

    async def stop(self) -> None:
        """Flush and remove the handlers Tamarco installed."""
        self._install([], self.level)

    async def _get(self, key: str, default: Any) -> Any:
        if self.settings is None:
            return default
        return await self.settings.get(key, default)

    def _install(self, handlers: list[logging.Handler], level: int) -> None:
        old = self.handlers
        self.handlers = handlers
        self.level = level
        for name in self.loggers_names:
            target = logging.getLogger(name)
            for handler in old:
                target.removeHandler(handler)
            for handler in handlers:
                target.addHandler(handler)
            target.setLevel(level)
            target.propagate = False
        for handler in old:
            handler.flush()
            handler.close()


def _stdout_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(HUMAN_FORMAT))
    return handler


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    raise LoggingSettingsError(f"setting {key} must be true or false, got {value!r}")


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))

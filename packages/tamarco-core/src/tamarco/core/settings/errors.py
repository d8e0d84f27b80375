"""Settings exceptions. Each names the key or file involved."""

from __future__ import annotations

from typing import Any

from tamarco.core.errors import ExpectedStartFailure
from tamarco.core.redaction import is_secret_key


class SettingsError(Exception):
    """Base class of settings errors."""


class SettingNotFound(SettingsError, KeyError):
    """The key has no value and no default was given."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"setting not found: {self.key}"


class SettingsNotLoadedYet(SettingsError):
    """A promised setting was read before the settings were loaded."""


class SettingTypeError(SettingsError, ExpectedStartFailure, TypeError):
    """A setting holds a value of the wrong type."""

    def __init__(self, key: str, expected: Any, value: Any) -> None:
        names = " or ".join(t.__name__ for t in expected) if isinstance(expected, tuple) else expected.__name__
        shown = type(value).__name__ if is_secret_key(key.rsplit(".", 1)[-1]) else f"{type(value).__name__} {value!r}"
        super().__init__(f"setting {key} must be {names}, got {shown}")
        self.key = key
        self.expected = expected
        self.value = value


class SettingsFileError(SettingsError, ExpectedStartFailure):
    """The settings file is missing or malformed. The message names the file (and line)."""

    def __init__(self, path: str, reason: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"settings file {where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason

"""Reading and validating the settings of the HTTP resources.

Every reader takes the resource's :class:`~tamarco.core.settings.settings.SettingsView`
(``system.resources.<name>``) and raises :class:`HTTPSettingsError` or the core's
``SettingTypeError``, both naming the full key, on a bad value.
"""

from __future__ import annotations

from typing import Any

from tamarco.core.settings.settings import SettingsView
from tamarco.resources.io.http._errors import HTTPSettingsError

_MISSING = object()


def read(view: SettingsView, key: str, default: Any, expect: Any) -> Any:
    """``key`` under the view, checked against ``expect`` (a type or tuple of types)."""
    return view.get_nowait(key, default, expect=expect)


def read_first(view: SettingsView, keys: tuple[str, ...], default: Any, expect: Any) -> Any:
    """The value of the first key of ``keys`` that is set (new name first, 0.1 names after)."""
    for key in keys:
        value = view.get_nowait(key, _MISSING, expect=expect)
        if value is not _MISSING:
            return value
    return default


def read_port(view: SettingsView, key: str = "port", default: Any = _MISSING) -> int:
    """A TCP port (0 asks the system for a free one). Missing and no default: a clear error."""
    value = view.get_nowait(key, None if default is _MISSING else default, expect=(int, type(None)))
    if value is None:
        raise HTTPSettingsError(
            view.full_key(key),
            "missing: set the TCP port to listen on (0 picks a free port)",
        )
    if not 0 <= value <= 65535:
        raise HTTPSettingsError(view.full_key(key), f"{value} is not a TCP port (0-65535)")
    return int(value)


def read_positive(view: SettingsView, key: str, default: float | None) -> float | None:
    """A number of seconds (or a size) that must be > 0; ``None`` means no limit."""
    value = view.get_nowait(key, default, expect=(int, float, type(None)))
    if value is not None and value <= 0:
        raise HTTPSettingsError(view.full_key(key), f"must be greater than 0, got {value!r}")
    return None if value is None else float(value)


def read_positive_first(view: SettingsView, keys: tuple[str, ...], default: float) -> float:
    """The first of ``keys`` that is set (new name first, 0.1 names after), a number of seconds
    that must be > 0; the error names the key that holds the bad value."""
    for key in keys:
        value = read_positive(view, key, None)
        if value is not None:
            return value
    return float(default)

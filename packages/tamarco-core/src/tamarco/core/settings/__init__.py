"""Centralized settings: an internal dict of defaults plus an external source (file or etcd)."""

from tamarco.core.settings.errors import (
    SettingNotFound,
    SettingsError,
    SettingsFileError,
    SettingsNotLoadedYet,
    SettingTypeError,
)
from tamarco.core.settings.settings import SettingProxy, Settings, SettingsView

__all__ = [
    "SettingNotFound",
    "SettingProxy",
    "SettingTypeError",
    "Settings",
    "SettingsError",
    "SettingsFileError",
    "SettingsNotLoadedYet",
    "SettingsView",
]

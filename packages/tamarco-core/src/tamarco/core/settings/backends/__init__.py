"""Settings backends: where the external settings come from."""

from tamarco.core.settings.backends.file import FileSettingsBackend
from tamarco.core.settings.backends.interface import SettingsBackend, SettingsSink

__all__ = ["FileSettingsBackend", "SettingsBackend", "SettingsSink"]

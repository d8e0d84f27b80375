"""Logging configured from the settings (``system.logging``)."""

from tamarco.core.logging.logging import PROFILES, Logging, LoggingSettingsError

__all__ = ["PROFILES", "Logging", "LoggingSettingsError"]

"""Logging configured from the settings (``system.logging``).

``Logging`` configures the standard library's loggers; the formatters, queued handlers and
transports it uses are public for services that want the same outputs elsewhere.
``tamarco.core.logging.testing.capture_logs`` captures records in tests.
"""

from tamarco.core.logging.config import LoggingConfig, LoggingSettingsError, parse_logging_settings
from tamarco.core.logging.formatters import HumanFormatter, JSONLinesFormatter, LogstashFormatter
from tamarco.core.logging.logging import PROFILES, Logging, StdoutHandler
from tamarco.core.logging.queued import (
    BatchingQueuedHandler,
    BatchRejected,
    HandlerStatistics,
    QueuedHandler,
    Transport,
)
from tamarco.core.logging.records import MASK, build_event, is_secret_key

__all__ = [
    "MASK",
    "PROFILES",
    "BatchRejected",
    "BatchingQueuedHandler",
    "HTTPTransport",
    "HandlerStatistics",
    "HumanFormatter",
    "JSONLinesFormatter",
    "Logging",
    "LoggingConfig",
    "LoggingSettingsError",
    "LogstashFormatter",
    "MissingDependencyError",
    "QueuedHandler",
    "RedisTransport",
    "StdoutHandler",
    "Transport",
    "UDPTransport",
    "build_event",
    "is_secret_key",
    "parse_logging_settings",
]

_TRANSPORTS = frozenset({"HTTPTransport", "MissingDependencyError", "RedisTransport", "UDPTransport"})


def __getattr__(name: str) -> object:
    # The network transports are imported when first named (a service without a network output
    # never needs them).
    if name in _TRANSPORTS:
        from tamarco.core.logging import transports

        return getattr(transports, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

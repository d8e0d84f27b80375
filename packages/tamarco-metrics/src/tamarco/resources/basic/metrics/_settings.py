"""The settings of the metrics resource (``system.resources.metrics``), read and checked.

Every error names the full key. Defaults follow the 0.1 documentation where it gives one
(``collect_frequency`` 10 s, carbon port 2003); Prometheus is enabled unless disabled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tamarco.core.settings.settings import SettingsView
from tamarco.resources.basic.metrics._errors import MetricsSettingsError
from tamarco.resources.basic.metrics._graphite import DEFAULT_PREFIX, graphite_prefix
from tamarco.resources.basic.metrics._meters import DEFAULT_AGE_BUCKETS, DEFAULT_WINDOW_SECONDS

__all__ = ["HANDLER_NAMES", "HandlerSettings", "MetricsSettings", "read_settings"]

logger = logging.getLogger("tamarco.metrics")

DEFAULT_COLLECT_FREQUENCY = 10.0
DEFAULT_CARBON_PORT = 2003
DEFAULT_MAX_PENDING_LINES = 100_000
DEFAULT_CARBON_TIMEOUT = 5.0
HANDLER_NAMES = ("prometheus", "carbon", "file", "stdout")


@dataclass(frozen=True)
class HandlerSettings:
    """One periodic handler (carbon, file or stdout)."""

    kind: str
    collect_frequency: float
    prefix: str = DEFAULT_PREFIX
    host: str | None = None
    port: int | None = None
    path: str | None = None
    timeout: float = DEFAULT_CARBON_TIMEOUT
    max_pending_lines: int = DEFAULT_MAX_PENDING_LINES


@dataclass(frozen=True)
class MetricsSettings:
    collect_frequency: float = DEFAULT_COLLECT_FREQUENCY
    prometheus: bool = True
    summary_window_seconds: float = DEFAULT_WINDOW_SECONDS
    summary_age_buckets: int = DEFAULT_AGE_BUCKETS
    handlers: list[HandlerSettings] = field(default_factory=list)


def _positive(view: SettingsView, key: str, default: float) -> float:
    value = view.get_nowait(key, default, expect=(int, float))
    if not value > 0:
        raise MetricsSettingsError(f"setting {view.full_key(key)} must be a number greater than 0, got {value!r}")
    return float(value)


def _positive_int(view: SettingsView, key: str, default: int) -> int:
    value = view.get_nowait(key, default, expect=int)
    if value < 1:
        raise MetricsSettingsError(f"setting {view.full_key(key)} must be an integer of at least 1, got {value!r}")
    return int(value)


def _required(view: SettingsView, key: str, expect: Any, what: str) -> Any:
    value = view.get_nowait(key, None, expect=(expect, type(None)))
    if value is None or value == "":
        raise MetricsSettingsError(f"setting {view.full_key(key)} is missing: {what}")
    return value


def read_settings(view: SettingsView) -> MetricsSettings:
    """Read and check ``system.resources.metrics``."""
    frequency = _positive(view, "collect_frequency", DEFAULT_COLLECT_FREQUENCY)
    handlers_tree = view.get_nowait("handlers", {}, expect=(dict, type(None))) or {}
    for unknown in sorted(set(handlers_tree) - set(HANDLER_NAMES)):
        logger.warning(
            "unknown metrics handler %s ignored (known: %s)",
            view.full_key(f"handlers.{unknown}"),
            ", ".join(HANDLER_NAMES),
        )
    prometheus = view.get_nowait("handlers.prometheus.enabled", True, expect=bool)
    handlers: list[HandlerSettings] = []
    for kind in ("carbon", "file", "stdout"):
        base = f"handlers.{kind}"
        if not view.get_nowait(f"{base}.enabled", False, expect=bool):
            continue
        prefix = view.get_nowait(f"{base}.prefix", DEFAULT_PREFIX, expect=str)
        try:
            graphite_prefix(prefix, "service", "deploy", "host")
        except ValueError as error:
            raise MetricsSettingsError(f"setting {view.full_key(base + '.prefix')}: {error}") from None
        common: dict[str, Any] = {
            "kind": kind,
            "collect_frequency": _positive(view, f"{base}.collect_frequency", frequency),
            "prefix": prefix,
        }
        if kind == "carbon":
            port = view.get_nowait(f"{base}.port", DEFAULT_CARBON_PORT, expect=int)
            if not 0 < port <= 65535:
                raise MetricsSettingsError(
                    f"setting {view.full_key(base + '.port')} must be a TCP port (1-65535), got {port!r}"
                )
            common.update(
                host=_required(view, f"{base}.host", str, "the carbon host to send the metrics to"),
                port=port,
                timeout=_positive(view, f"{base}.timeout", DEFAULT_CARBON_TIMEOUT),
                max_pending_lines=_positive_int(view, f"{base}.max_pending_lines", DEFAULT_MAX_PENDING_LINES),
            )
        elif kind == "file":
            common["path"] = _required(view, f"{base}.path", str, "the file to append the metrics to")
        handlers.append(HandlerSettings(**common))
    return MetricsSettings(
        collect_frequency=frequency,
        prometheus=prometheus,
        summary_window_seconds=_positive(view, "summary_window_seconds", DEFAULT_WINDOW_SECONDS),
        summary_age_buckets=_positive_int(view, "summary_age_buckets", DEFAULT_AGE_BUCKETS),
        handlers=handlers,
    )

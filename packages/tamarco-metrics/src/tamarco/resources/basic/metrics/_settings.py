"""The settings of the metrics resource (``system.resources.metrics``), read and checked.

Every error names the full key; every wrong setting and unknown key is reported at once (the
core's :class:`~tamarco.core.settings.reader.SettingsReader`), at the service's settings check.
Defaults follow the 0.1 documentation where it gives one (``collect_frequency`` 10 s, carbon
port 2003); Prometheus is enabled unless disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tamarco.core.settings.reader import SettingsReader
from tamarco.core.settings.settings import SettingsView
from tamarco.resources.basic.metrics._errors import MetricsSettingsError
from tamarco.resources.basic.metrics._graphite import DEFAULT_PREFIX, graphite_prefix
from tamarco.resources.basic.metrics._meters import DEFAULT_AGE_BUCKETS, DEFAULT_WINDOW_SECONDS

__all__ = ["HANDLER_NAMES", "KNOWN_KEYS", "HandlerSettings", "MetricsSettings", "read_settings"]

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


#: The keys of each section of ``system.resources.metrics`` (``None``: the top); another one is
#: an error naming its full key. ``tamarco_http_report_server`` is where the 0.1 docs put the
#: report server's settings: the report server reads them there (with a warning).
KNOWN_KEYS: dict[str | None, tuple[str, ...]] = {
    None: (
        "collect_frequency",
        "summary_window_seconds",
        "summary_age_buckets",
        "handlers",
        "tamarco_http_report_server",
    ),
    "handlers": HANDLER_NAMES,
    "handlers.prometheus": ("enabled",),
    "handlers.carbon": ("enabled", "host", "port", "collect_frequency", "prefix", "timeout", "max_pending_lines"),
    "handlers.file": ("enabled", "path", "collect_frequency", "prefix"),
    "handlers.stdout": ("enabled", "collect_frequency", "prefix"),
}


class _Reader(SettingsReader):
    """The core's reader over ``system.resources.metrics``; a wrong type is the core's
    ``SettingTypeError``, a wrong value a :class:`MetricsSettingsError`, both naming the key."""

    def __init__(self, view: SettingsView) -> None:
        super().__init__(view.get_nowait, view.full_key, error=MetricsSettingsError)
        self.view = view

    def typed(self, key: str, default: Any, expect: Any) -> Any:
        return self.view.get_nowait(key, default, expect=expect)

    def positive(self, key: str, default: float) -> float:
        value = self.typed(key, default, (int, float))
        if not value > 0:
            self.fail(key, f"must be a number greater than 0, got {value!r}")
        return float(value)

    def positive_int(self, key: str, default: int) -> int:
        value = self.typed(key, default, int)
        if value < 1:
            self.fail(key, f"must be an integer of at least 1, got {value!r}")
        return int(value)

    def required(self, key: str, what: str) -> str:
        value = self.typed(key, None, (str, type(None)))
        if not value:
            self.fail(key, f"is missing: {what}")
        return str(value)

    def prefix(self, key: str) -> str:
        prefix = str(self.typed(key, DEFAULT_PREFIX, str))
        try:
            graphite_prefix(prefix, "service", "deploy", "host")
        except ValueError as error:
            raise MetricsSettingsError(f"setting {self.key(key)}: {error}") from None
        return prefix

    def port(self, key: str) -> int:
        port = int(self.typed(key, DEFAULT_CARBON_PORT, int))
        if not 0 < port <= 65535:
            self.fail(key, f"must be a TCP port (1-65535), got {port!r}")
        return port

    def check_sections(self) -> None:
        for section, known in KNOWN_KEYS.items():
            with self.each():
                tree = self.view.get_nowait(None, None) if section is None else self.mapping(section)
                self.check_known(section, tree if isinstance(tree, Mapping) else {}, known)

    def handler(self, kind: str, frequency: float) -> HandlerSettings | None:
        """The settings of handler ``kind`` when it is enabled and they are right."""
        base = f"handlers.{kind}"
        enabled = False
        with self.each():
            enabled = self.typed(f"{base}.enabled", False, bool)
        if not enabled:
            return None
        reads: dict[str, Callable[[], Any]] = {
            "prefix": lambda: self.prefix(f"{base}.prefix"),
            "collect_frequency": lambda: self.positive(f"{base}.collect_frequency", frequency),
        }
        if kind == "carbon":
            reads.update(
                host=lambda: self.required(f"{base}.host", "the carbon host to send the metrics to"),
                port=lambda: self.port(f"{base}.port"),
                timeout=lambda: self.positive(f"{base}.timeout", DEFAULT_CARBON_TIMEOUT),
                max_pending_lines=lambda: self.positive_int(f"{base}.max_pending_lines", DEFAULT_MAX_PENDING_LINES),
            )
        elif kind == "file":
            reads["path"] = lambda: self.required(f"{base}.path", "the file to append the metrics to")
        values = self.read_each(reads)
        return HandlerSettings(kind=kind, **values) if len(values) == len(reads) else None


def read_settings(view: SettingsView) -> MetricsSettings:
    """Read and check ``system.resources.metrics``: every wrong setting (and unknown key) in one
    error naming each full key (a lone one raised as it is)."""
    read = _Reader(view)
    read.check_sections()
    top = read.read_each(
        {
            "collect_frequency": lambda: read.positive("collect_frequency", DEFAULT_COLLECT_FREQUENCY),
            "prometheus": lambda: bool(read.typed("handlers.prometheus.enabled", True, bool)),
            "summary_window_seconds": lambda: read.positive("summary_window_seconds", DEFAULT_WINDOW_SECONDS),
            "summary_age_buckets": lambda: read.positive_int("summary_age_buckets", DEFAULT_AGE_BUCKETS),
        }
    )
    frequency = top.get("collect_frequency", DEFAULT_COLLECT_FREQUENCY)
    handlers = [read.handler(kind, frequency) for kind in ("carbon", "file", "stdout")]
    read.raise_problems()
    return MetricsSettings(handlers=[handler for handler in handlers if handler is not None], **top)

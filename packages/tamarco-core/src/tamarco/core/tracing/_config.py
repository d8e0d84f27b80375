"""``system.tracing``: what it may hold, checked at start, and the ``OTEL_*`` variables behind it.

A key the settings leave out falls back on the standard OpenTelemetry environment variable, then
on OpenTelemetry's default:

============== ==================================================================== ======================
setting        environment variable (when the setting is absent)                     default
============== ==================================================================== ======================
``enabled``    ``OTEL_SDK_DISABLED=true`` keeps it off                               ``false``
``endpoint``   ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full URL, used as is),    ``http://localhost:4318``
               ``OTEL_EXPORTER_OTLP_ENDPOINT`` (a base URL)
``sample_ratio`` ``OTEL_TRACES_SAMPLER`` (+ ``OTEL_TRACES_SAMPLER_ARG``)            parent-based, 1.0
``headers``    ``OTEL_EXPORTER_OTLP_TRACES_HEADERS``, ``OTEL_EXPORTER_OTLP_HEADERS``  none
``timeout``    ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT``, ``OTEL_EXPORTER_OTLP_TIMEOUT`` 10 s
============== ==================================================================== ======================

Spans go to ``<endpoint>/v1/traces`` (OTLP/HTTP, protobuf). ``tasks`` (default false) also
traces each run of a ``@task_timer`` (not ``@task``: it usually runs as long as the service). A bad value is a
:class:`TracingSettingsError` naming the key (or the variable) at start; header values are
secrets: never in an error, a log line or ``/status``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tamarco.core.redaction import redact_url
from tamarco.core.settings.reader import SettingsReader, SettingValueError

__all__ = ["PREFIX", "TRACES_PATH", "TracingConfig", "TracingSettingsError", "parse_tracing_settings"]

PREFIX = "system.tracing"
TRACES_PATH = "/v1/traces"
DEFAULT_ENDPOINT = "http://localhost:4318"
DEFAULT_TIMEOUT = 10.0
_KEYS = frozenset({"enabled", "endpoint", "sample_ratio", "headers", "timeout", "tasks"})


class TracingSettingsError(SettingValueError):
    """``system.tracing`` (or an ``OTEL_*`` variable standing in for it) holds a bad value;
    ``key`` is the setting or the variable."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"setting {key} {problem}")
        self.key = key

    @classmethod
    def from_message(cls, message: str) -> TracingSettingsError:
        """From the :class:`SettingsReader`'s ``setting <key> <problem>``."""
        _, key, problem = message.split(" ", 2)
        return cls(key, problem)


@dataclass(frozen=True)
class TracingConfig:
    """What ``system.tracing`` asks for, environment variables applied."""

    enabled: bool = False
    #: Where spans are posted (``<endpoint>/v1/traces``), credentials never shown.
    traces_url: str = DEFAULT_ENDPOINT + TRACES_PATH
    #: ``None``: the sampler of ``OTEL_TRACES_SAMPLER``, or parent-based always-on.
    sample_ratio: float | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    tasks: bool = False

    @property
    def shown_url(self) -> str:
        return redact_url(self.traces_url)


def parse_tracing_settings(tree: Any, environ: Mapping[str, str] | None = None) -> TracingConfig:
    """Check the ``system.tracing`` subtree (``None`` when absent) against ``environ``."""
    env = os.environ if environ is None else environ
    if tree is None:
        tree = {}
    if not isinstance(tree, Mapping):
        raise TracingSettingsError(PREFIX, f"must be a mapping, got {type(tree).__name__}")
    reader = SettingsReader.of_mapping(tree, PREFIX, error=TracingSettingsError.from_message)
    reader.check_known(None, tree, _KEYS)
    enabled = reader.boolean("enabled", False)
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" and "enabled" not in tree:
        enabled = False
    timeout = reader.seconds("timeout", DEFAULT_TIMEOUT) if tree.get("timeout") is not None else _env_timeout(env)
    return TracingConfig(
        enabled=enabled,
        traces_url=_traces_url(tree.get("endpoint"), env),
        sample_ratio=_sample_ratio(reader),
        headers=_headers(reader, env),
        timeout=timeout,
        tasks=reader.boolean("tasks", False),
    )


def _traces_url(endpoint: Any, env: Mapping[str, str]) -> str:
    if endpoint is not None:
        return _check_url(f"{PREFIX}.endpoint", endpoint).rstrip("/") + TRACES_PATH
    full = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if full:
        return _check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", full)
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return _check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base).rstrip("/") + TRACES_PATH
    return DEFAULT_ENDPOINT + TRACES_PATH


def _check_url(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TracingSettingsError(key, f"must be an http(s) URL (OTLP/HTTP), got {type(value).__name__}")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise TracingSettingsError(key, f"is not a valid URL ({redact_url(value)!r}: {error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TracingSettingsError(
            key,
            f"must be an http(s) URL of an OTLP/HTTP receiver, e.g. http://collector:4318, got {redact_url(value)!r}",
        )
    if port == 0:
        raise TracingSettingsError(key, f"has port 0 ({redact_url(value)!r})")
    if parts.query or parts.fragment:
        raise TracingSettingsError(key, f"must not have a query or a fragment ({redact_url(value)!r})")
    return value


def _sample_ratio(reader: SettingsReader) -> float | None:
    if reader.get("sample_ratio") is None:
        return None
    ratio = reader.number("sample_ratio", 1.0)
    if ratio > 1.0:
        reader.fail("sample_ratio", f"must be a number from 0 to 1, got {ratio!r}")
    return ratio


def _headers(reader: SettingsReader, env: Mapping[str, str]) -> dict[str, str]:
    key = f"{PREFIX}.headers"
    if reader.get("headers") is None:
        for name in ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"):
            text = env.get(name, "").strip()
            if text:
                return _parse_env_headers(name, text)
        return {}
    value = reader.mapping("headers")
    headers = {}
    for name, header in value.items():
        if not isinstance(name, str) or not name.strip():
            raise TracingSettingsError(key, f"has a header name that is not a non-empty string: {name!r}")
        if not isinstance(header, str):
            # The value is a secret: its type only.
            raise TracingSettingsError(f"{key}.{name}", f"must be a string, got {type(header).__name__}")
        headers[name.strip().lower()] = header
    return headers


def _parse_env_headers(name: str, text: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values URL-encoded), as the OTLP exporter specification has it."""
    headers = {}
    for item in text.split(","):
        if not item.strip():
            continue
        header, sep, value = item.partition("=")
        if not sep or not header.strip():
            raise TracingSettingsError(name, "must be key=value pairs separated by commas (values not shown)")
        headers[unquote(header.strip()).lower()] = unquote(value.strip())
    return headers


def _env_timeout(env: Mapping[str, str]) -> float:
    for name in ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"):
        text = env.get(name, "").strip()
        if text:
            try:
                seconds = float(text)
            except ValueError:
                raise TracingSettingsError(name, f"must be a number of seconds, got {text!r}") from None
            if not seconds > 0:
                raise TracingSettingsError(name, f"must be > 0, got {text!r}")
            return seconds
    return DEFAULT_TIMEOUT

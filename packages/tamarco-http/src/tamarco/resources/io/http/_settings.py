"""Reading and validating the settings of the HTTP resources.

Every reader takes the resource's :class:`~tamarco.core.settings.settings.SettingsView`
(``system.resources.<name>``) and raises :class:`HTTPSettingsError` or the core's
``SettingTypeError``, both naming the full key, on a bad value. The checks are the core's
:class:`~tamarco.core.settings.reader.SettingsReader`; :func:`check_known` refuses a key the
resource does not read (a typo such as ``keep_alive_timout_seconds``), naming its full key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn

from tamarco.core.settings.reader import SettingsReader
from tamarco.core.settings.settings import SettingsView
from tamarco.resources.io.http._errors import HTTPSettingsError

_MISSING = object()

DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_KEEP_ALIVE_TIMEOUT = 120.0
#: Seconds for a whole request, head and body, from its first byte.
DEFAULT_REQUEST_DEADLINE = 60.0
#: Seconds a new connection may stay silent before it is closed.
DEFAULT_FIRST_BYTE_TIMEOUT = 10.0
#: Open connections beyond which a new one gets 503 and is closed.
DEFAULT_MAX_CONNECTIONS = 1000

#: The keys each HTTP resource reads (0.1 names included); a subclass reading more extends its
#: ``settings_keys``.
SERVER_KEYS = (
    "host",
    "port",
    "debug",
    "keep_alive",
    "keep_alive_connections",
    "keep_alive_timeout_seconds",
    "keep_alive_timeout",
    "request_timeout_seconds",
    "request_deadline_seconds",
    "first_byte_timeout_seconds",
    "max_connections",
    "access_log",
    "backlog",
    "graceful_shutdown_timeout",
    "metrics",
    "openapi",
    "cache",
    "cache_enabled",
    "cache_maxsize",
    "cache_ttl",
    "cache_header_keys",
)
CACHE_KEYS = ("enabled", "maxsize", "ttl", "header_keys")
CLIENT_KEYS = ("base_url", "timeout", "connect_timeout", "read_timeout", "limit", "limit_per_host", "headers")
REPORT_SERVER_KEYS = (
    "host",
    "port",
    "shutdown_timeout",
    "keep_alive_timeout_seconds",
    "max_connections",
    "bearer_token",
    "protect_metrics",
    "asyncapi",
)


class HTTPSettingsReader(SettingsReader):
    """The core's reader, raising :class:`HTTPSettingsError` (``setting <full key>: <problem>``)."""

    def fail(self, key: str, problem: str) -> NoReturn:
        raise HTTPSettingsError(self.key(key), problem)

    def _caught(self) -> tuple[type[Exception], ...]:
        return (*super()._caught(), HTTPSettingsError)

    def problems_error(self, problems: Sequence[str]) -> Exception:
        error = HTTPSettingsError(self.key(""), f"{len(problems)} wrong settings: " + "; ".join(problems))
        error.problems = tuple(problems)  # type: ignore[attr-defined]
        return error


def reader(view: SettingsView) -> HTTPSettingsReader:
    return HTTPSettingsReader(view.get_nowait, view.full_key)


def check_known(view: SettingsView, known: Iterable[str], sections: Mapping[str, Iterable[str]] | None = None) -> None:
    """Refuse the keys of the resource's settings not in ``known`` (nor of a section, such as
    ``cache``, in ``sections``), naming each full key and the known ones."""
    read = reader(view)
    tree = view.get_nowait(None, None)
    with read.each():
        read.check_known(None, tree if isinstance(tree, Mapping) else {}, known)
    for section, keys in (sections or {}).items():
        with read.each():
            read.check_known(section, read.mapping(section), keys)
    read.raise_problems()


def read_all(view: SettingsView, reads: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """``{name: read()}`` for each of ``reads``, every one read: the wrong settings are reported
    together (one :class:`HTTPSettingsError` naming each; a lone wrong one raised as it is)."""
    collector = reader(view)
    values = collector.read_each(reads)
    collector.raise_problems()
    return values


def read_server(view: SettingsView, known: Iterable[str]) -> dict[str, Any]:
    """Every setting the HTTP server reads (``known``: its ``settings_keys``), checked: all the
    wrong ones are reported together."""
    seconds, first = read_positive, read_positive_first
    return read_all(
        view,
        {
            "known": lambda: check_known(view, known, {"cache": CACHE_KEYS}),
            "host": lambda: read(view, "host", "127.0.0.1", str),
            "port": lambda: read_port(view),
            "debug": lambda: bool(read(view, "debug", False, bool)),
            "access_log": lambda: bool(read(view, "access_log", False, bool)),
            "backlog": lambda: int(read(view, "backlog", 100, int)),
            "keep_alive": lambda: bool(read_first(view, ("keep_alive", "keep_alive_connections"), True, bool)),
            "keep_alive_timeout": lambda: first(
                view, ("keep_alive_timeout_seconds", "keep_alive_timeout"), DEFAULT_KEEP_ALIVE_TIMEOUT
            ),
            "request_timeout": lambda: first(view, ("request_timeout_seconds",), DEFAULT_REQUEST_TIMEOUT),
            "request_deadline": lambda: seconds(view, "request_deadline_seconds", DEFAULT_REQUEST_DEADLINE),
            "first_byte_timeout": lambda: seconds(view, "first_byte_timeout_seconds", DEFAULT_FIRST_BYTE_TIMEOUT),
            "max_connections": lambda: seconds(view, "max_connections", DEFAULT_MAX_CONNECTIONS),
            "drain_timeout": lambda: seconds(view, "graceful_shutdown_timeout", 15.0) or 15.0,
            "cache": lambda: read_cache(view),
            "metrics": lambda: bool(read(view, "metrics", True, bool)),
            "openapi": lambda: bool(read(view, "openapi", True, bool)),
        },
    )


def read_cache(view: SettingsView) -> tuple[int, float, list[str]] | None:
    """The server's response cache, ``(maxsize, ttl, header_keys)``, or None when it is off."""
    if not read_first(view, ("cache.enabled", "cache_enabled"), False, bool):
        return None
    maxsize = read_first(view, ("cache.maxsize", "cache_maxsize"), 1000, int)
    if maxsize <= 0:
        raise HTTPSettingsError(view.full_key("cache.maxsize"), f"must be greater than 0, got {maxsize}")
    ttl = read_first(view, ("cache.ttl", "cache_ttl"), 60, (int, float))
    if ttl <= 0:
        raise HTTPSettingsError(view.full_key("cache.ttl"), f"must be greater than 0, got {ttl}")
    header_keys = read_first(view, ("cache.header_keys", "cache_header_keys"), [], (list, tuple))
    return int(maxsize), float(ttl), [str(key) for key in header_keys]


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


def http_url(host: str | None, port: int | None) -> str | None:
    """``http://host:port`` (an IPv6 host in brackets) for a bound server, None before it binds."""
    if host is None or port is None:
        return None
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def read_port(view: SettingsView, key: str = "port", default: Any = _MISSING) -> int:
    """A TCP port (0 asks the system for a free one). Missing and no default: a clear error."""
    value = view.get_nowait(key, None if default is _MISSING else default, expect=(int, type(None)))
    if value is None:
        reader(view).fail(key, "missing: set the TCP port to listen on (0 picks a free port)")
    if not 0 <= value <= 65535:
        reader(view).fail(key, f"{value} is not a TCP port (0-65535)")
    return int(value)


def read_positive(view: SettingsView, key: str, default: float | None) -> float | None:
    """A number of seconds (or a size) that must be > 0; ``None`` means no limit."""
    value = view.get_nowait(key, default, expect=(int, float, type(None)))
    if value is not None and value <= 0:
        reader(view).fail(key, f"must be greater than 0, got {value!r}")
    return None if value is None else float(value)


def read_positive_first(view: SettingsView, keys: tuple[str, ...], default: float) -> float:
    """The first of ``keys`` that is set (new name first, 0.1 names after), a number of seconds
    that must be > 0; the error names the key that holds the bad value."""
    for key in keys:
        value = read_positive(view, key, None)
        if value is not None:
            return value
    return float(default)

"""The ``system.logging`` settings, read and checked in one place.

:func:`parse_logging_settings` turns the settings subtree into frozen dataclasses, one per
output. They compare by value, which is how a live change rebuilds only the outputs whose
settings changed (a new profile keeps the Redis handler and its queue). A bad value raises
:class:`LoggingSettingsError` naming the full key and what is allowed, before anything is
applied. Passwords are kept out of every ``repr``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tamarco.core.redaction import redact_url
from tamarco.core.urls import PERCENT_ENCODE_HINT, authority_problem

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "FileConfig",
    "HTTPConfig",
    "LoggingConfig",
    "LoggingSettingsError",
    "LogstashUDPConfig",
    "RedisConfig",
    "StdoutConfig",
    "parse_logging_settings",
    "redact_url",
]

PREFIX = "system.logging"

PROFILES = {"DEVELOP": logging.DEBUG, "PRODUCTION": logging.INFO}
DEFAULT_PROFILE = "PRODUCTION"
FORMATS = ("human", "json")
DATA_TYPES = ("list", "channel")
DEFAULT_QUEUE_SIZE = 10_000


class LoggingSettingsError(ValueError):
    """A ``system.logging`` setting is invalid; the message names it."""


@dataclass(frozen=True)
class StdoutConfig:
    format: str = "human"
    #: None: colour only on a TTY (and without ``NO_COLOR``).
    color: bool | None = None


@dataclass(frozen=True)
class FileConfig:
    path: str
    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    format: str = "human"


@dataclass(frozen=True)
class _NetworkConfig:
    version: int = 1
    fqdn: bool = False
    queue_size: int = DEFAULT_QUEUE_SIZE
    message_type: str = "Logstash"


@dataclass(frozen=True)
class LogstashUDPConfig(_NetworkConfig):
    host: str = "127.0.0.1"
    port: int = 5959


@dataclass(frozen=True)
class RedisConfig(_NetworkConfig):
    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    key: str = "logstash"
    data_type: str = "list"
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class HTTPConfig(_NetworkConfig):
    url: str = ""
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    max_records: int = 100
    max_time_seconds: float = 5.0
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class LoggingConfig:
    profile: str = DEFAULT_PROFILE
    stdout: StdoutConfig | None = field(default_factory=StdoutConfig)
    file: FileConfig | None = None
    logstash: LogstashUDPConfig | None = None
    redis: RedisConfig | None = None
    http: HTTPConfig | None = None
    flush_timeout_seconds: float = 5.0

    @property
    def level(self) -> int:
        return PROFILES[self.profile]


class _Reader:
    """Typed reads from one settings block, errors naming the full key."""

    def __init__(self, tree: Any, prefix: str) -> None:
        if tree is None:
            tree = {}
        if not isinstance(tree, Mapping):
            raise LoggingSettingsError(f"setting {prefix} must be a mapping, got {tree!r}")
        self.tree = tree
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def raw(self, name: str, default: Any) -> Any:
        value = self.tree.get(name, default)
        return default if value is None else value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if isinstance(value, bool):
            return value
        raise LoggingSettingsError(f"setting {self.key(name)} must be true or false, got {value!r}")

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < minimum
            or (maximum is not None and value > maximum)
        ):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise LoggingSettingsError(f"setting {self.key(name)} must be an integer {bound}, got {value!r}")
        return value

    def number(self, name: str, default: float) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise LoggingSettingsError(f"setting {self.key(name)} must be a number > 0, got {value!r}")
        return float(value)

    def string(self, name: str, default: str) -> str:
        value = self.raw(name, default)
        if not isinstance(value, str) or not value:
            raise LoggingSettingsError(f"setting {self.key(name)} must be a non-empty string, got {value!r}")
        return value

    def optional_string(self, name: str, secret: bool = False) -> str | None:
        value = self.tree.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            shown = "a non-string value" if secret else repr(value)
            raise LoggingSettingsError(f"setting {self.key(name)} must be a string, got {shown}")
        return value

    def choice(self, name: str, default: Any, allowed: tuple[Any, ...]) -> Any:
        value = self.raw(name, default)
        if value not in allowed or isinstance(value, bool):
            shown = ", ".join(repr(a) if not isinstance(a, str) else a for a in allowed)
            raise LoggingSettingsError(f"setting {self.key(name)} is {value!r}; allowed values: {shown}")
        return value

    def block(self, name: str) -> _Reader | None:
        """The sub-block ``name`` when it exists and is ``enabled``."""
        tree = self.tree.get(name)
        if tree is None:
            return None
        reader = _Reader(tree, self.key(name))
        return reader if reader.boolean("enabled", False) else None

    def address(self, host: str, port: int) -> dict[str, Any]:
        """The ``host`` and ``port`` (1 to 65535) of a network output, with these defaults."""
        return {"host": self.string("host", host), "port": self.integer("port", port, 1, 65535)}

    def network(self) -> dict[str, Any]:
        return {
            "version": self.choice("version", 1, (0, 1)),
            "fqdn": self.boolean("fqdn", False),
            "queue_size": self.integer("queue_size", DEFAULT_QUEUE_SIZE, 1),
            "message_type": self.string("message_type", "Logstash"),
        }


def parse_logging_settings(tree: Any, prefix: str = PREFIX) -> LoggingConfig:
    """Check the ``system.logging`` subtree and return what it asks for.

    Raises :class:`LoggingSettingsError` naming the first bad key and its allowed values.
    """
    root = _Reader(tree, prefix)
    profile = root.raw("profile", DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise LoggingSettingsError(
            f"setting {root.key('profile')} is {profile!r}; allowed values: {', '.join(PROFILES)}"
        )
    stdout = None
    if root.boolean("stdout", True):
        color = root.raw("stdout_color", "auto")
        if color not in ("auto", True, False):
            raise LoggingSettingsError(
                f"setting {root.key('stdout_color')} is {color!r}; allowed values: auto, true, false"
            )
        stdout = StdoutConfig(
            format=root.choice("stdout_format", "human", FORMATS),
            color=None if color == "auto" else color,
        )
    file = None
    file_path = root.raw("file_path", None)
    if file_path not in (None, "", False):
        if not isinstance(file_path, str):
            raise LoggingSettingsError(f"setting {root.key('file_path')} must be a path, got {file_path!r}")
        file = FileConfig(
            path=file_path,
            max_bytes=root.integer("file_max_bytes", FileConfig.max_bytes, 0),
            backup_count=root.integer("file_backup_count", FileConfig.backup_count, 0),
            format=root.choice("file_format", "human", FORMATS),
        )
    logstash = None
    udp = root.block("logstash")
    if udp is not None:
        logstash = LogstashUDPConfig(**udp.address(LogstashUDPConfig.host, LogstashUDPConfig.port), **udp.network())
    redis = None
    block = root.block("redis")
    if block is not None:
        redis = RedisConfig(
            **block.address(RedisConfig.host, RedisConfig.port),
            db=block.integer("db", 0, 0),
            password=block.optional_string("password", secret=True),
            ssl=block.boolean("ssl", False),
            key=block.string("key", RedisConfig.key),
            data_type=block.choice("data_type", "list", DATA_TYPES),
            timeout_seconds=block.number("timeout_seconds", RedisConfig.timeout_seconds),
            **block.network(),
        )
    http = None
    block = root.block("http")
    if block is not None:
        url = block.string("url", "")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise LoggingSettingsError(
                f"setting {block.key('url')} must be an http:// or https:// URL, got {redact_url(url)!r}"
            )
        problem = authority_problem(url)
        if problem is not None:
            raise LoggingSettingsError(
                f"setting {block.key('url')} is not a valid URL: {problem}; {PERCENT_ENCODE_HINT}"
            )
        user = block.optional_string("user")
        password = block.optional_string("password", secret=True)
        parts = urlsplit(url)
        if (user or password) and (parts.username or parts.password):
            # aiohttp refuses both (ValueError on every request): a settings error, not an outage.
            given = block.key("user") if user else block.key("password")
            raise LoggingSettingsError(
                f"setting {given}: credentials are given twice, in {given} and in the URL of "
                f"{block.key('url')} ({redact_url(url)!r}); keep one of them"
            )
        http = HTTPConfig(
            url=url,
            user=user,
            password=password,
            max_records=block.integer("max_records", HTTPConfig.max_records, 1),
            max_time_seconds=block.number("max_time_seconds", HTTPConfig.max_time_seconds),
            timeout_seconds=block.number("timeout_seconds", HTTPConfig.timeout_seconds),
            **block.network(),
        )
    return LoggingConfig(
        profile=profile,
        stdout=stdout,
        file=file,
        logstash=logstash,
        redis=redis,
        http=http,
        flush_timeout_seconds=root.number("flush_timeout_seconds", 5.0),
    )

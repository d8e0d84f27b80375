"""Formatters: human lines (optionally coloured), JSON lines, and Logstash events.

All three read the fields of a record through :mod:`tamarco.core.logging.records`, so an
``extra`` secret is masked and an odd value never raises, whatever the output.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
from datetime import datetime
from typing import Any, TextIO

from tamarco.core.logging.records import (
    EventContext,
    build_event,
    extra_fields,
    jsonable,
    record_message,
)

__all__ = ["HumanFormatter", "JSONLinesFormatter", "LogstashFormatter", "dumps", "host_name", "use_color"]

_LEVEL_COLORS = {
    "DEBUG": "\x1b[36m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;41;37m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


def dumps(event: Any) -> str:
    """Compact JSON; anything :func:`json.dumps` still refuses becomes its ``repr``."""
    return json.dumps(event, default=repr, ensure_ascii=False, separators=(",", ":"))


def use_color(stream: TextIO, setting: bool | None) -> bool:
    """Colour when asked to (``True``), never (``False``), or on a TTY without ``NO_COLOR``."""
    if setting is not None:
        return setting
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@functools.lru_cache(maxsize=2)
def host_name(fqdn: bool = False) -> str:
    """The host name, or the fully qualified domain name (a DNS lookup, cached)."""
    return socket.getfqdn() if fqdn else socket.gethostname()


class HumanFormatter(logging.Formatter):
    """``2026-11-27 22:10:00.123 INFO my_service: message key=value [tags]``.

    Extra fields follow the message as ``key=value`` (secrets masked), the traceback on the
    next lines. With ``color`` the level name and the extras are coloured (ANSI).
    """

    def __init__(self, color: bool = False) -> None:
        super().__init__()
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S")
        level = record.levelname
        if self.color:
            level = f"{_LEVEL_COLORS.get(level, '')}{level}{_RESET}"
        line = f"{moment}.{int(record.msecs):03d} {level} {record.name}: {record_message(record)}"
        extras = jsonable(extra_fields(record))
        details = " ".join(f"{key}={dumps(value)}" for key, value in extras.items())
        tags = getattr(record, "tags", None)
        if tags:
            details = f"{details} tags={dumps(jsonable(tags))}".lstrip()
        if details:
            line = f"{line} {_DIM}{details}{_RESET}" if self.color else f"{line} {details}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


class LogstashFormatter(logging.Formatter):
    """A record as one Logstash JSON event, format ``version`` 0 or 1 (see ``build_event``)."""

    def __init__(
        self,
        service_name: str | None = None,
        deploy_name: str | None = None,
        *,
        version: int = 1,
        fqdn: bool = False,
        message_type: str = "Logstash",
        instance_id: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__()
        if version not in (0, 1):
            raise ValueError(f"Logstash format version must be 0 or 1, not {version!r}")
        self.version = version
        if host is None:
            host = host_name(fqdn)
        self.context = EventContext(service_name, deploy_name, host, message_type, instance_id)

    def event(self, record: logging.LogRecord) -> dict[str, Any]:
        """The event as a dict (before JSON encoding)."""
        return build_event(record, self.context, self.version)

    def format(self, record: logging.LogRecord) -> str:
        return dumps(self.event(record))


class JSONLinesFormatter(LogstashFormatter):
    """One JSON object per line (Logstash version 1 fields): for stdout or a file."""

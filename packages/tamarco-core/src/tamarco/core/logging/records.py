"""Turn a :class:`logging.LogRecord` into the JSON-safe event Tamarco ships.

Every formatter and handler goes through :func:`build_event`, so stdout JSON lines, the file,
Logstash UDP, Redis and HTTP all carry the same fields. The rules that make an event safe to
ship live here too:

- ``extra`` fields (``logger.info("x", extra={...})``) are the record attributes the standard
  library does not define;
- a value that JSON cannot encode is sent as its ``repr``; formatting never raises;
- the value of any key named like a secret (password, token, secret, api key, ...) is masked,
  at any depth (the rules of :mod:`tamarco.core.redaction`; the microservice's logging also
  masks URL passwords and known secret values in messages and tracebacks).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tamarco.core.redaction import MASK, SECRET_KEY_PATTERN, is_secret_key

__all__ = [
    "MASK",
    "SECRET_KEY_PATTERN",
    "EventContext",
    "build_event",
    "extra_fields",
    "is_secret_key",
    "jsonable",
    "logstash_tags",
    "record_message",
    "utc_timestamp",
]

#: The attributes every LogRecord has: anything else on a record came from ``extra``.
STANDARD_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)

#: Nesting depth kept when converting extra values; deeper values become their ``repr``.
MAX_DEPTH = 8

_PRIMITIVES = (str, int, bool, type(None))


class EventContext:
    """The service fields stamped on every event (``service_name``, ``deploy_name``, ...)."""

    __slots__ = ("deploy_name", "host", "instance_id", "message_type", "service_name")

    def __init__(
        self,
        service_name: str | None = None,
        deploy_name: str | None = None,
        host: str = "",
        message_type: str = "Logstash",
        instance_id: str | None = None,
    ) -> None:
        self.service_name = service_name
        self.deploy_name = deploy_name
        self.host = host
        self.message_type = message_type
        self.instance_id = instance_id


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as something :func:`json.dumps` encodes, secrets masked.

    Mappings keep their (stringified) keys, sequences become lists, non-finite floats and
    anything else become their ``repr``.
    """
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= MAX_DEPTH:
        return _safe_repr(value)
    if isinstance(value, Mapping):
        try:
            items = list(value.items())
        except Exception:
            return _safe_repr(value)
        return {str(key): MASK if is_secret_key(key) else jsonable(item, depth + 1) for key, item in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item, depth + 1) for item in value]
    return _safe_repr(value)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as error:  # a broken __repr__ must not break the caller's log line
        return f"<unrepresentable {type(value).__name__}: {type(error).__name__}>"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields of ``record`` (without ``tags``), raw, not yet made JSON-safe."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in STANDARD_RECORD_ATTRIBUTES and key != "tags" and not key.startswith("_")
    }


def logstash_tags(tags: Any) -> list[str]:
    """``tags`` as Logstash wants them: a list of strings.

    Logstash 8 moves a ``tags`` field that is not a list of strings to ``_tags`` and marks the
    event ``_tagsparsefailure``, so the 0.1 examples' dict (``{"tag": "tag_value"}``) is sent as
    ``["tag:tag_value"]``; a string is one tag; other values become their string form. Secret
    values are masked like any other field.
    """
    if not tags:
        return []
    if isinstance(tags, str):
        return [tags]
    if isinstance(tags, Mapping):
        safe = jsonable(tags)
        return [f"{key}:{value if isinstance(value, str) else json.dumps(value)}" for key, value in safe.items()]
    if isinstance(tags, (list, tuple, set, frozenset)):
        return [item if isinstance(item, str) else json.dumps(jsonable(item)) for item in tags]
    return [_safe_repr(tags)]


def record_message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or a description of why it could not be formatted."""
    try:
        return record.getMessage()
    except Exception as error:
        return f"{_safe_repr(record.msg)} % {_safe_repr(record.args)} (message formatting failed: {error!r})"


_last_second: tuple[int, str] = (-1, "")


def utc_timestamp(created: float) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``: ``2026-11-27T22:10:00.123Z``."""
    global _last_second
    second = int(created)
    cached_second, prefix = _last_second  # one tuple: consistent even across threads
    if cached_second != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second = (second, prefix)
    millis = min(round((created - second) * 1_000_000) // 1000, 999)  # as datetime rounds
    return f"{prefix}{millis:03d}Z"


def exception_text(record: logging.LogRecord, formatter: logging.Formatter) -> str | None:
    """The formatted traceback of ``record`` (cached on it, as the standard library does)."""
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


_TRACEBACK_FORMATTER = logging.Formatter()


def build_event(record: logging.LogRecord, context: EventContext, version: int = 1) -> dict[str, Any]:
    """The Logstash event of ``record`` in format ``version`` 0 or 1.

    Version 1 puts every field at the top level (``@timestamp``, ``@version``, ``message``);
    version 0 nests the fields under ``@fields`` (``@timestamp``, ``@message``, ``@tags``).
    Both carry the same service fields: the 0.1 release left them out of version 1.
    """
    fields: dict[str, Any] = jsonable(extra_fields(record))
    fields.update(
        {
            "levelname": record.levelname,
            "logger": record.name,
            "service_name": context.service_name,
            "deploy_name": context.deploy_name,
        }
    )
    if context.instance_id is not None:
        fields["instance_id"] = context.instance_id
    traceback = exception_text(record, _TRACEBACK_FORMATTER)
    if traceback:
        fields.update(
            {
                "stack_trace": traceback,
                "lineno": record.lineno,
                "funcName": record.funcName,
                "process": record.process,
                "thread_name": record.threadName,
            }
        )
    if record.stack_info:
        fields["stack_info"] = record.stack_info
    tags = logstash_tags(getattr(record, "tags", None))
    timestamp = utc_timestamp(record.created)
    message = record_message(record)
    if version == 0:
        return {
            "@timestamp": timestamp,
            "@message": message,
            "@source": f"{context.message_type}://{context.host}/{record.pathname}",
            "@source_host": context.host,
            "@source_path": record.pathname,
            "@tags": tags,
            "@type": context.message_type,
            "@fields": fields,
        }
    event = fields
    event.update(
        {
            "@timestamp": timestamp,
            "@version": "1",
            "message": message,
            # An object, as ECS has it: Logstash 8 inputs add [host][ip] and fail to parse an
            # event whose host is a string (python-logstash's and 0.1's format 1 did that).
            "host": {"name": context.host},
            "path": record.pathname,
            "type": context.message_type,
            "tags": tags,
            "level": record.levelname,
            "logger_name": record.name,
        }
    )
    return event

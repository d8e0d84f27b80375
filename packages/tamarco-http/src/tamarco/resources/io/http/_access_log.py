"""Sanic's access log, readable through Tamarco's logging.

Sanic logs each request on ``sanic.access`` with an empty message and the details in
``extra`` fields, for its own formatter. This filter writes the message Tamarco's formatters
show (``127.0.0.1:53422 GET /items?page=2 200 12 1.3ms``) and masks the values of query
parameters named like secrets (``?token=********``), since URLs end up in log collectors.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit

from tamarco.core.logging.records import MASK, is_secret_key

__all__ = ["ACCESS_LOGGER", "AccessLogMessage", "install"]

ACCESS_LOGGER = "sanic.access"


class AccessLogMessage(logging.Filter):
    """Gives Sanic's access records a message; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if record.msg == "" and isinstance(request, str):
            method, _, url = request.partition(" ")
            request = f"{method} {_path_without_secrets(url)}"
            record.__dict__["request"] = request
            record.msg = "%s %s %s %s%s"
            record.args = (
                getattr(record, "host", "-"),
                request,
                getattr(record, "status", "-"),
                getattr(record, "byte", "-"),
                getattr(record, "duration", ""),
            )
        return True


def _path_without_secrets(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    if not parts.query:
        return path
    query = [
        (key, MASK if is_secret_key(key) else value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(query, safe='*')}"


def install() -> None:
    """Add the filter to ``sanic.access`` (once per process)."""
    access_logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, AccessLogMessage) for existing in access_logger.filters):
        access_logger.addFilter(AccessLogMessage())

"""The handlers Tamarco's outputs write through, and the filter that masks secrets first.

:class:`StdoutHandler` (the stdout output), :class:`FileOutputHandler` (the rotating file output,
which counts and reports write errors instead of raising) and :class:`RedactingFilter` (every
record masked once by the service's :class:`~tamarco.core.redaction.Redactor` before any
output formats it). The network outputs (Logstash UDP, Redis, HTTP) are
:class:`~tamarco.core.logging.queued.QueuedHandler` s over the transports of
:mod:`tamarco.core.logging.transports`.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import time
from typing import Any, TextIO

from tamarco.core.logging.queued import HANDLER_FIELD, _dropped_counter
from tamarco.core.logging.records import extra_fields, record_message
from tamarco.core.redaction import Redactor

__all__ = ["FileOutputHandler", "RedactingFilter", "StdoutHandler"]

logger = logging.getLogger("tamarco.logging")


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time of the call (pytest's capture too)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stdout


_TRACEBACK_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Masks secrets in a record, in place, before any Tamarco handler formats it.

    The message (with its arguments), the traceback, the stack and the ``extra`` strings go
    through the :class:`~tamarco.core.redaction.Redactor`; a record is masked once, whatever
    the number of outputs.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get("_tamarco_redacted"):
            return True
        record._tamarco_redacted = True
        text = self.redactor.text
        message = record_message(record)
        masked = text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = text(record.exc_text)
        if record.stack_info:
            record.stack_info = text(record.stack_info)
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, text(value))
        return True


class FileOutputHandler(logging.handlers.RotatingFileHandler):
    """The file output: a write error (a full disk, a lost mount) never raises nor prints a
    traceback per record. Records that could not be written are counted (:attr:`write_errors`,
    ``tamarco_logging_dropped_records{handler="file"}``) and reported by a warning at most
    every :attr:`report_interval` seconds (to the other outputs), and once more when writing
    works again."""

    #: Seconds between two reports of write errors.
    report_interval = 10.0

    def __init__(self, filename: str, *, name: str = "file", **kwargs: Any) -> None:
        super().__init__(filename, **kwargs)
        self.name = name
        self.write_errors = 0
        self._reported = 0
        self._last_report = 0.0
        self._failing = False
        self._reporting = threading.local()
        self._counter = _dropped_counter(name)

    def emit(self, record: logging.LogRecord) -> None:
        if record.__dict__.get(HANDLER_FIELD) == self.name:
            return  # a report about this output: it goes to the others
        errors = self.write_errors
        super().emit(record)
        if self._failing and self.write_errors == errors:
            self._failing = False
            self._report(None, force=True)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._count_error(error)

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as error:
            self._count_error(error)

    def close(self) -> None:
        try:
            super().close()
        except OSError as error:
            self.stream = None  # type: ignore[assignment]
            self._count_error(error)
        if self.write_errors > self._reported:
            self._report(None, force=True, closing=True)

    def _count_error(self, error: OSError) -> None:
        self.write_errors += 1
        self._failing = True
        if self._counter is not None:
            try:
                self._counter.inc()
            except Exception as failure:
                logger.debug("tamarco_logging_dropped_records not updated: %s", failure)
        self._report(error)

    def _report(self, error: OSError | None, force: bool = False, closing: bool = False) -> None:
        if getattr(self._reporting, "active", False):
            return
        now = time.monotonic()
        if not force and now - self._last_report < self.report_interval:
            return
        new = self.write_errors - self._reported
        self._last_report, self._reported = now, self.write_errors
        self._reporting.active = True
        try:
            if error is not None:
                logger.warning(
                    "logging handler %s cannot write to %s (%s); %d records not written (%d in total), "
                    "reported at most every %g s",
                    self.name,
                    self.baseFilename,
                    os.strerror(error.errno) if error.errno else error,
                    new,
                    self.write_errors,
                    self.report_interval,
                    extra={HANDLER_FIELD: self.name},
                )
            elif new or not closing:
                logger.warning(
                    "logging handler %s %s %s; %d records were not written in total",
                    self.name,
                    "closed" if closing else "writes again to",
                    self.baseFilename,
                    self.write_errors,
                    extra={HANDLER_FIELD: self.name},
                )
        finally:
            self._reporting.active = False

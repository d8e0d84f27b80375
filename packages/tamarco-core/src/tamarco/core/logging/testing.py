"""Capture what a service logged, to assert on it in tests.

In the spirit of ``structlog.testing.capture_logs``::

    from tamarco.core.logging.testing import capture_logs

    async def test_greets():
        with capture_logs() as logs:
            async with MyContext():
                ...
        record = logs.find(message="hello", logger="my_service")
        assert record.extra["user_id"] == 42

Tamarco sets ``propagate = False`` on the loggers it configures, so a handler on the root
logger (``caplog``) does not see their records. Every logger Tamarco configures therefore
carries a dispatcher that forwards records to the active captures; the root logger gets the
capture handler too, for every other logger that propagates. Records are captured at the
level their logger lets through (the profile); pass ``level`` to keep only the higher ones.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tamarco.core.logging._dispatch import DISPATCHER, CaptureDispatcher
from tamarco.core.logging.records import extra_fields, record_message
from tamarco.core.tracing import TRACE_FIELDS_FILTER

__all__ = ["DISPATCHER", "CaptureDispatcher", "CapturedLogs", "CapturedRecord", "capture_logs"]


@dataclass
class CapturedRecord:
    """One captured record: its message, logger, level, ``extra`` fields and ``tags``."""

    message: str
    logger: str
    levelname: str
    levelno: int
    extra: dict[str, Any]
    tags: Any
    exc_info: Any
    record: logging.LogRecord = field(repr=False)

    @property
    def level(self) -> str:
        return self.levelname

    def matches(
        self,
        message: str | None = None,
        logger: str | None = None,
        level: str | int | None = None,
        contains: str | None = None,
        **extra: Any,
    ) -> bool:
        """Whether every given criterion holds (``extra`` keys must be equal)."""
        if message is not None and self.message != message:
            return False
        if contains is not None and contains not in self.message:
            return False
        if logger is not None and self.logger != logger:
            return False
        if level is not None and level not in (self.levelname, self.levelno):
            return False
        return all(key in self.extra and self.extra[key] == value for key, value in extra.items())


class CapturedLogs(list[CapturedRecord]):
    """The records captured so far, in order, with helpers to search and wait."""

    @property
    def messages(self) -> list[str]:
        return [record.message for record in self]

    def filter(self, **criteria: Any) -> list[CapturedRecord]:
        """The records matching :meth:`CapturedRecord.matches` criteria."""
        return [record for record in list(self) if record.matches(**criteria)]

    def find(self, **criteria: Any) -> CapturedRecord:
        """The first matching record; ``AssertionError`` listing what was captured if none."""
        found = self.filter(**criteria)
        if not found:
            raise AssertionError(f"no captured record matches {criteria}; captured: {self._summary()}")
        return found[0]

    async def wait_for(self, timeout: float = 5.0, **criteria: Any) -> CapturedRecord:
        """Wait until a matching record is captured (from a task, a thread...)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.filter(**criteria)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no record matching {criteria} within {timeout} s; captured: {self._summary()}")
            await asyncio.sleep(0.01)

    def _summary(self) -> str:
        lines = [f"{r.levelname} {r.logger}: {r.message}" for r in list(self)[-20:]]
        return "\n  " + "\n  ".join(lines) if lines else "nothing"


class _CaptureHandler(logging.Handler):
    def __init__(self, logs: CapturedLogs, level: int) -> None:
        super().__init__(level)
        self.addFilter(TRACE_FIELDS_FILTER)  # trace_id, span_id as the outputs have them
        self.logs = logs
        self._seen: set[int] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self._seen:  # reached through two loggers
            return
        self._seen.add(id(record))
        self.logs.append(
            CapturedRecord(
                message=record_message(record),
                logger=record.name,
                levelname=record.levelname,
                levelno=record.levelno,
                extra=extra_fields(record),
                tags=getattr(record, "tags", None),
                exc_info=record.exc_info,
                record=record,
            )
        )


@contextmanager
def capture_logs(
    level: int | str = logging.NOTSET, loggers: tuple[str, ...] | list[str] = ()
) -> Iterator[CapturedLogs]:
    """Capture records logged inside the ``with`` block.

    Captured: the loggers Tamarco configures (even with ``propagate = False``), every
    logger propagating to the root logger, and the names in ``loggers`` (for other
    non-propagating loggers). ``level`` drops records below it.
    """
    logs = CapturedLogs()
    handler = _CaptureHandler(logs, logging._checkLevel(level))  # type: ignore[attr-defined]
    targets = [logging.getLogger(), *(logging.getLogger(name) for name in loggers)]
    DISPATCHER.add(handler)
    for target in targets:
        target.addHandler(handler)
    try:
        yield logs
    finally:
        DISPATCHER.remove(handler)
        for target in targets:
            target.removeHandler(handler)

"""The capture dispatcher: a handler on every logger Tamarco configures, forwarding records to
the active :func:`tamarco.core.logging.testing.capture_logs` blocks.

Its own module so that a service's start imports only it, not the test helpers
(``tests/test_start_imports.py``).
"""

from __future__ import annotations

import logging
import threading

__all__ = ["DISPATCHER", "CaptureDispatcher"]


class CaptureDispatcher(logging.Handler):
    """Installed on every logger Tamarco configures: forwards records to active captures.

    With no capture active it costs one attribute check per record.
    """

    def __init__(self) -> None:
        super().__init__()
        self.targets: tuple[logging.Handler, ...] = ()
        self._lock_targets = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        targets = self.targets
        for target in targets:
            if record.levelno >= target.level:
                target.handle(record)
        return bool(targets)

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        self.handle(record)

    def add(self, handler: logging.Handler) -> None:
        with self._lock_targets:
            self.targets = (*self.targets, handler)

    def remove(self, handler: logging.Handler) -> None:
        with self._lock_targets:
            self.targets = tuple(t for t in self.targets if t is not handler)


#: The one dispatcher every Tamarco-configured logger carries.
DISPATCHER = CaptureDispatcher()

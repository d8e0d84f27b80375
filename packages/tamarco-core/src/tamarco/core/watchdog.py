"""The forced exit of a shutdown, independent of the event loop.

A resource ``stop()`` that blocks the event loop (``time.sleep``, a blocking socket call)
stops every coroutine, including the one timing the grace period. So the grace period is also
kept by a :class:`ShutdownWatchdog` thread, armed when the shutdown begins, and the forced
exit itself (:func:`force_exit`) never waits for the loop: it reports through the logging
handlers from a helper thread for at most :data:`REPORT_TIMEOUT` seconds (a handler blocked by
the stuck thread cannot hold it), falls back to a raw write on stderr, and ends the process
with ``os._exit``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable

__all__ = ["REPORT_TIMEOUT", "WATCHDOG_MARGIN", "ShutdownWatchdog", "force_exit"]

#: How long the forced exit waits for its log line to be written and flushed.
REPORT_TIMEOUT = 0.5
#: The watchdog fires this long after the grace period, leaving the first word to the loop.
WATCHDOG_MARGIN = 0.25

_forcing = threading.Lock()


def force_exit(
    code: int,
    reason: str,
    logger: logging.Logger,
    handlers: Callable[[], Iterable[logging.Handler]] = list,
) -> None:
    """Log ``reason`` (critical), flush what can be flushed, and end the process with ``code``.

    Safe from any thread and from a signal handler: the report runs in a helper thread and
    is given up after :data:`REPORT_TIMEOUT` seconds. Only the first caller reports; the others
    wait for it to end the process.
    """
    if not _forcing.acquire(blocking=False):
        threading.Event().wait(REPORT_TIMEOUT * 4)
        os._exit(code)
    message = f"forcing exit with code {code}: {reason}"
    reported = threading.Event()

    def report() -> None:
        try:
            logger.critical("%s", message)
            for handler in handlers():
                try:
                    handler.flush()
                except Exception:  # the process is going away: nothing left to report to
                    continue
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    continue
        finally:
            reported.set()

    threading.Thread(target=report, name="tamarco:force-exit-report", daemon=True).start()
    if not reported.wait(REPORT_TIMEOUT):
        try:
            os.write(2, f"{logger.name}: {message} (logging did not answer)\n".encode(errors="replace"))
        except OSError:
            pass
    os._exit(code)


class ShutdownWatchdog:
    """Calls ``expire(reason)`` from its own thread if not disarmed within ``timeout`` seconds.

    ``describe()`` is called then, from the watchdog thread, to name what the shutdown is stuck in.
    """

    def __init__(self, timeout: float, describe: Callable[[], str], expire: Callable[[str], None]) -> None:
        self.timeout = timeout
        self.describe = describe
        self.expire = expire
        self._disarmed = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="tamarco:shutdown-watchdog", daemon=True)
        self._thread.start()

    def disarm(self) -> None:
        self._disarmed.set()

    @property
    def armed(self) -> bool:
        return self._thread is not None and not self._disarmed.is_set()

    def _watch(self) -> None:
        if self._disarmed.wait(self.timeout):
            return
        try:
            reason = self.describe()
        except Exception as error:  # describing must never keep the process alive
            reason = f"shutdown outlived its grace period ({type(error).__name__} while describing it)"
        self.expire(reason)

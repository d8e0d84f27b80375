"""Running a service as a process: the event loop, signals, and the grace period of the stop.

:meth:`Microservice.run() <tamarco.core.microservice.Microservice.run>` creates the event loop
(:func:`run_coroutine`) and hands the service to :class:`SignalledRun`, which installs the
SIGTERM/SIGINT handlers, starts the service, waits for a signal or ``stop_gracefully()``, and
stops it within the grace period. A stop longer than the grace period, or a second signal,
ends the process with :data:`EXIT_FORCED` even when a stop blocks the event loop: a watchdog
thread keeps the grace period and, from the start of the shutdown, signals are handled by
Python-level handlers (see :mod:`tamarco.core.watchdog`). This is the one place Tamarco exits
the process itself.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import signal
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from tamarco.core.errors import ExpectedStartFailure, MicroserviceDefinitionError
from tamarco.core.lifecycle import ServiceState
from tamarco.core.watchdog import WATCHDOG_MARGIN, ShutdownWatchdog, force_exit

if TYPE_CHECKING:
    from tamarco.core.microservice import Microservice

__all__ = ["EXIT_FAILURE", "EXIT_FORCED", "EXIT_OK", "SignalledRun", "freeze_gc_at_exit", "run_coroutine"]

EXIT_OK = 0
#: A resource failed to start, a stop step raised, or a restart was requested.
EXIT_FAILURE = 1
#: The graceful shutdown did not finish within the grace period, or a second signal came.
EXIT_FORCED = 3

EVENT_LOOPS = ("auto", "uvloop", "asyncio")


class SignalledRun:
    """One run of a service: start, serve until a signal or a stop request, stop in time."""

    def __init__(self, service: Microservice) -> None:
        self._service = service
        self._logger = service.logger
        self.stop_requested = asyncio.Event()
        self._signals = 0
        #: Signals registered with the event loop, and those handled directly by Python from
        #: the start of the shutdown (the loop's registration stays: removing it would reset
        #: the signal to its default action for a moment; ``_on_signal`` ignores them then).
        self._loop_signals: list[int] = []
        self._direct_signals: set[int] = set()

    async def run(self) -> int:
        """Start, serve until a signal or ``stop_gracefully()``, stop; return the exit code."""
        service = self._service
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
                self._loop_signals.append(signum)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                pass
        try:
            starting = loop.create_task(service._start_all(), name=f"tamarco:start:{service.name}")
            stop_wait = loop.create_task(self.stop_requested.wait())
            await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                self._logger.info("stop requested while starting (during %s)", service.current_stage or "setup")
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
            elif starting.exception() is not None:
                error = starting.exception()
                expected = isinstance(error, ExpectedStartFailure) or isinstance(
                    getattr(error, "error", None), ExpectedStartFailure
                )
                # An expected failure (a port in use, a bad setting) is one line; its traceback at DEBUG.
                self._logger.error("%s failed to start: %s", service.name, error, exc_info=None if expected else error)
                if expected:
                    self._logger.debug("%s failed to start", service.name, exc_info=error)
                service.exit_code = service.exit_code or EXIT_FAILURE
                self.stop_requested.set()
            await stop_wait
            await self._shutdown_with_grace()
            self._logger.info("lifecycle: stopped (exit code %d)", service.exit_code)
            await service._stop_logging()
            return service.exit_code
        finally:
            for installed in self._loop_signals:
                loop.remove_signal_handler(installed)  # back to the default action
            self._loop_signals = []
            self._direct_signals = set()

    async def _shutdown_with_grace(self) -> None:
        """Steps 1-6 of the stop, forced past the grace period even if the loop is blocked.

        A :class:`~tamarco.core.watchdog.ShutdownWatchdog` thread and Python-level signal
        handlers (run by the interpreter between bytecodes, not by the loop) take over from
        the loop: a ``stop()`` stuck in ``time.sleep`` still ends in exit code 3.
        """
        service = self._service
        grace = service.shutdown_timeout()
        watchdog = ShutdownWatchdog(
            grace + WATCHDOG_MARGIN,
            lambda: f"shutdown took longer than {grace:g} s, stuck in {self._stuck_in()}; the event loop is blocked",
            self._force_exit,
        )
        watchdog.arm()
        self._handle_signals_directly()
        try:
            stopping = asyncio.get_running_loop().create_task(service._stop_all(), name=f"tamarco:stop:{service.name}")
            done, _ = await asyncio.wait({stopping}, timeout=grace)
            if not done:
                self._force_exit(f"shutdown took longer than {grace:g} s, stuck in {self._stuck_in()}")
            elif stopping.exception() is not None:
                error = stopping.exception()
                self._logger.error("error while stopping: %s", error, exc_info=error)
                service.exit_code = service.exit_code or EXIT_FAILURE
        finally:
            watchdog.disarm()

    def _stuck_in(self) -> str:
        where = str(self._service.current_stage or "an unknown stage")
        stragglers = self._service.tasks.stragglers
        if stragglers:
            where += f" (threads still running: {', '.join(stragglers)})"
        return where

    def _handle_signals_directly(self) -> None:
        """From the loop's signal handlers to Python's: the loop may be what is stuck."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in self._loop_signals:
            signal.signal(signum, self._on_signal_during_shutdown)  # replaces the loop's, atomically
            self._direct_signals.add(signum)

    def _on_signal_during_shutdown(self, signum: int, frame: Any) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            self._force_exit(f"second {name} during shutdown (stuck in {self._stuck_in()})")
        try:
            asyncio.get_running_loop().call_soon_threadsafe(self._logger.info, "received %s, already stopping", name)
        except RuntimeError:  # no loop running in this frame: report it from here
            self._logger.info("received %s, already stopping", name)

    def _on_signal(self, signum: int) -> None:
        if signum in self._direct_signals:
            return  # counted by _on_signal_during_shutdown already
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1 and self._service.state is ServiceState.STOPPING:
            where = self._service.current_stage or "an unknown stage"
            self._force_exit(f"second {name} during shutdown (stuck in {where})")
        self._logger.info("received %s, stopping gracefully", name)
        self.stop_requested.set()

    def _force_exit(self, reason: str) -> None:
        """Exit with :data:`EXIT_FORCED` now, from any thread (see :func:`tamarco.core.watchdog.force_exit`)."""
        force_exit(EXIT_FORCED, reason, self._logger, lambda: self._service.logging.handlers)


_gc_freeze_registered = False


def freeze_gc_at_exit() -> None:
    """At interpreter exit, exempt every object left from the final garbage collections.

    With a framework's worth of modules loaded (~50k tracked objects), those collections were
    most of the time from SIGTERM to the process being gone: ~110 ms, ~16 ms without them
    (benchmarks/service_lifecycle.py). The service has stopped and flushed its logs by then;
    what is still alive is freed with the process (cyclic garbage left at exit is not
    finalized, which Python does not promise anyway). Registered with ``atexit`` so that a
    process that goes on after ``run()`` (a test catching ``SystemExit``) is unaffected.
    """
    global _gc_freeze_registered
    if not _gc_freeze_registered:
        atexit.register(gc.freeze)
        _gc_freeze_registered = True


def run_coroutine(coroutine: Coroutine[Any, Any, int], event_loop: str = "auto") -> int:
    """Run ``coroutine`` to completion on a new loop of the kind ``event_loop`` names.

    ``"auto"``: uvloop when installed (Sanic installs it on Linux), else asyncio's;
    ``"uvloop"``: uvloop, required; ``"asyncio"``: the standard library's.
    """
    if event_loop not in EVENT_LOOPS:
        coroutine.close()
        raise MicroserviceDefinitionError(f"event_loop must be 'auto', 'uvloop' or 'asyncio', not {event_loop!r}")
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                coroutine.close()
                raise MicroserviceDefinitionError("event_loop = 'uvloop' but uvloop is not installed") from None
        else:
            return int(uvloop.run(coroutine))
    return asyncio.run(coroutine)

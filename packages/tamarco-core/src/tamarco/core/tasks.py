"""The ``@task``, ``@task_timer`` and ``@thread`` decorators and the runner behind them.

Decorated methods are collected from the service class when the service starts, run after
``post_start``, and cancelled (tasks) or asked to stop (threads) first when it stops. A task
that raises is logged with its traceback; the other tasks keep running. What each task and
thread is doing (running, finished, failed and why) is in :meth:`TaskRunner.report`, which
``/status`` shows.

Threads stop cooperatively, in either of two ways: a ``stop_event`` parameter receives a
:class:`threading.Event` set on stop (``stop_event.wait(1)`` sleeps and wakes at once on
stop), and, as in Tamarco 0.1, the thread's ``stop`` attribute becomes True
(``while not threading.current_thread().stop: ...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class TaskSpec:
    """How a decorated method runs."""

    kind: str  # "task", "timer" or "thread"
    name: str
    interval: float = 0.0  # seconds, timers only
    one_shot: bool = False
    autostart: bool = False


@dataclass
class TaskHealth:
    """What one task, timer or thread is doing; ``state`` is ``running``, ``finished`` (it
    returned), ``failed`` (it raised and ended) or ``stopped`` (by the service's stop)."""

    kind: str
    state: str = "running"
    error: str | None = None
    #: Runs of a timer that raised (the timer keeps going).
    failed_runs: int = 0
    since: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "state": self.state, "since": round(self.since, 3)}
        if self.error is not None:
            info["error"] = self.error
        if self.failed_runs:
            info["failed_runs"] = self.failed_runs
        return info


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _mark(function: Callable[..., Any], spec: TaskSpec) -> None:
    function._tamarco_task = spec  # type: ignore[attr-defined]


def _require_async(function: Callable[..., Any], decorator: str) -> None:
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"@{decorator} needs an async function; {function.__qualname__} is not one")


@overload
def task(name_or_fn: str) -> Callable[[F], F]: ...
@overload
def task(name_or_fn: F) -> F: ...


def task(name_or_fn: Any) -> Any:
    """Run an async method as a task for the life of the service: ``@task`` or ``@task("name")``."""
    if isinstance(name_or_fn, str):
        name = name_or_fn

        def decorator(function: F) -> F:
            _require_async(function, "task")
            _mark(function, TaskSpec("task", name))
            return function

        return decorator
    if not callable(name_or_fn):
        raise TypeError("@task takes a task name or an async function")
    _require_async(name_or_fn, "task")
    _mark(name_or_fn, TaskSpec("task", name_or_fn.__name__))
    return name_or_fn


def task_timer(interval: float = 1000, one_shot: bool = False, autostart: bool = False) -> Callable[[F], F]:
    """Run an async method every ``interval`` milliseconds.

    The first run is one interval after start, or at once with ``autostart``. The period is
    measured start to start, so it does not drift with the run time; a run longer than the
    interval delays the next one (runs never overlap or pile up). ``one_shot`` runs it once.
    An exception in one run is logged and the timer keeps going.
    """
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
        raise ValueError(f"@task_timer interval must be a positive number of milliseconds, got {interval!r}")

    def decorator(function: F) -> F:
        _require_async(function, "task_timer")
        _mark(function, TaskSpec("timer", function.__name__, interval / 1000, one_shot, autostart))
        return function

    return decorator


@overload
def thread(name_or_fn: str) -> Callable[[F], F]: ...
@overload
def thread(name_or_fn: F) -> F: ...


def thread(name_or_fn: Any) -> Any:
    """Run a regular (blocking) method in a thread for the life of the service.

    Stopping is cooperative: a method with a ``stop_event`` parameter receives a
    :class:`threading.Event` that is set when the service stops, and should return soon after;
    a 0.1-style method polls ``threading.current_thread().stop`` (False, then True on stop).
    A thread that does not end in half the grace period does not hold the resources' stop;
    if it still runs at the end of the grace period the exit code is 3.
    """

    def mark(function: F, name: str) -> F:
        if inspect.iscoroutinefunction(function):
            raise TypeError(f"@thread needs a regular function; {function.__qualname__} is async (use @task)")
        _mark(function, TaskSpec("thread", name))
        return function

    if isinstance(name_or_fn, str):
        return lambda function: mark(function, name_or_fn)
    if not callable(name_or_fn):
        raise TypeError("@thread takes a thread name or a function")
    return mark(name_or_fn, name_or_fn.__name__)


def collect_task_specs(cls: type) -> list[tuple[str, TaskSpec]]:
    """``(attribute name, spec)`` of every decorated method of ``cls`` and its bases."""
    found: dict[str, TaskSpec] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            spec = getattr(value, "_tamarco_task", None)
            if isinstance(spec, TaskSpec):
                found[attr] = spec
            elif attr in found:
                del found[attr]  # overridden by an undecorated method
    return list(found.items())


class TaskRunner:
    """Starts and stops the decorated methods of one service instance."""

    def __init__(self, owner: Any, logger: logging.Logger) -> None:
        self.owner = owner
        self.logger = logger
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.stop_event = threading.Event()
        self.health: dict[str, TaskHealth] = {}
        self._stragglers: dict[str, threading.Thread] = {}

    @property
    def stragglers(self) -> list[str]:
        """Threads asked to stop that were still running when last checked."""
        return [name for name, worker in self._stragglers.items() if worker.is_alive()]

    def report(self) -> dict[str, dict[str, Any]]:
        """``{name: {"kind", "state", "since", "error"?, "failed_runs"?}}`` of every task and thread."""
        return {name: health.as_dict() for name, health in list(self.health.items())}

    def failed(self) -> dict[str, str]:
        """``{name: error}`` of the tasks and threads that raised and ended."""
        return {name: h.error or "failed" for name, h in list(self.health.items()) if h.state == "failed"}

    def _ended(self, name: str, state: str, error: BaseException | None = None) -> None:
        health = self.health.get(name)
        if health is None:
            return
        health.state = state
        health.since = time.time()
        if error is not None:
            health.error = _describe(error)

    def start(self) -> None:
        self.stop_event.clear()
        for attr, spec in collect_task_specs(type(self.owner)):
            self.health[spec.name] = TaskHealth(spec.kind)
            method = getattr(self.owner, attr)
            if spec.kind == "thread":
                self._start_thread(spec, method)
            else:
                runner = self._run_timer(spec, method) if spec.kind == "timer" else self._run_task(spec, method)
                self.tasks[spec.name] = asyncio.get_running_loop().create_task(runner, name=f"tamarco:{spec.name}")

    def add(self, name: str, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task of the service, cancelled when the service stops."""
        spec = TaskSpec("task", name)
        self.health[name] = TaskHealth("task")

        async def run() -> None:
            await self._run_task(spec, lambda: coroutine)

        created = asyncio.get_running_loop().create_task(run(), name=f"tamarco:{name}")
        self.tasks[name] = created
        return created

    async def _guard(self, spec: TaskSpec, call: Callable[[], Any]) -> Exception | None:
        """Run ``call()``; log and return what it raised."""
        try:
            await call()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.logger.exception("task %s failed", spec.name)
            return error
        return None

    def _traced(self, spec: TaskSpec, method: Callable[[], Any]) -> Callable[[], Any]:
        """``method`` in a span per run when the service traces its timers (``system.tracing.tasks``).

        Timers only: a ``@task`` usually runs for the service's whole life, and one span around
        it would make everything it ever does one trace.
        """
        service_tracing = getattr(self.owner, "tracing", None)
        if service_tracing is None or not service_tracing.enabled or not service_tracing.config.tasks:
            return method
        attributes = {"tamarco.task.name": spec.name, "tamarco.task.kind": spec.kind}

        async def traced() -> None:
            with service_tracing.span(f"timer {spec.name}", attributes=attributes):
                await method()

        return traced

    async def _run_task(self, spec: TaskSpec, method: Callable[[], Any]) -> None:
        try:
            error = await self._guard(spec, method)
        except asyncio.CancelledError:
            self._ended(spec.name, "stopped")
            raise
        if error is not None:
            self._ended(spec.name, "failed", error)
            self.logger.error("task %s ended: it raised %s (see /status)", spec.name, _describe(error))
            return
        self._ended(spec.name, "finished")
        self.logger.debug("task %s finished", spec.name)

    async def _run_timer(self, spec: TaskSpec, method: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        next_run = loop.time() + (0 if spec.autostart else spec.interval)
        while True:
            delay = next_run - loop.time()
            if delay > 0:
                try:
                    await asyncio.sleep(delay)
                except asyncio.CancelledError:
                    self._ended(spec.name, "stopped")
                    raise
            try:
                error = await self._guard(spec, self._traced(spec, method))
            except asyncio.CancelledError:
                self._ended(spec.name, "stopped")
                raise
            if error is not None:
                health = self.health.get(spec.name)
                if health is not None:
                    health.failed_runs += 1
                    health.error = _describe(error)
            if spec.one_shot:
                self._ended(spec.name, "failed" if error is not None else "finished")
                return
            next_run += spec.interval
            now = loop.time()
            if next_run < now:
                next_run = now

    def _start_thread(self, spec: TaskSpec, method: Callable[..., Any]) -> None:
        kwargs = {}
        if "stop_event" in inspect.signature(method).parameters:
            kwargs["stop_event"] = self.stop_event

        def target() -> None:
            try:
                method(**kwargs)
            except Exception as error:
                self.logger.exception("thread %s failed", spec.name)
                self._ended(spec.name, "failed", error)
                self.logger.error("thread %s ended: it raised %s (see /status)", spec.name, _describe(error))
                return
            self._ended(spec.name, "stopped" if self.stop_event.is_set() else "finished")

        worker = threading.Thread(target=target, name=f"tamarco:{spec.name}", daemon=True)
        worker.stop = False  # type: ignore[attr-defined]  # polled by 0.1-style threads
        self.threads[spec.name] = worker
        worker.start()

    async def stop(self, timeout: float) -> None:
        """Cancel the tasks and wait for them; ask threads to stop and wait up to ``timeout``.

        Threads still running then are :attr:`stragglers` (see :meth:`join_stragglers`).
        """
        self.stop_event.set()
        for worker in self.threads.values():
            worker.stop = True  # type: ignore[attr-defined]
        tasks = list(self.tasks.values())
        for running in tasks:
            running.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name, worker in list(self.threads.items()):
            remaining = max(0.0, deadline - loop.time())
            await _join(worker, remaining)
            if worker.is_alive():
                self._stragglers[name] = worker
                self.logger.warning(
                    "thread %s did not stop within %.1f s; the resources stop without waiting for it", name, timeout
                )
        self.threads.clear()

    async def join_stragglers(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the :attr:`stragglers`; the names still running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        for worker in list(self._stragglers.values()):
            await _join(worker, max(0.0, deadline - loop.time()))
        still = self.stragglers
        self._stragglers = {name: self._stragglers[name] for name in still}
        return still


async def _join(worker: threading.Thread, timeout: float) -> None:
    """``worker.join(timeout)`` without blocking the loop (nor the default executor: it may be
    full of threads that never end)."""
    if not worker.is_alive():
        return
    done = asyncio.get_running_loop().create_future()

    def wait() -> None:
        worker.join(timeout)
        if not done.done():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                done.get_loop().call_soon_threadsafe(_resolve, done)

    threading.Thread(target=wait, name=f"tamarco:join:{worker.name}", daemon=True).start()
    await done


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

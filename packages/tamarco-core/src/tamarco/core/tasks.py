"""The ``@task``, ``@task_timer`` and ``@thread`` decorators and the runner behind them.

Decorated methods are collected from the service class when the service starts, run after
``post_start``, and cancelled (tasks) or asked to stop (threads) first when it stops. A task
that raises is logged with its traceback; the other tasks keep running.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
    :class:`threading.Event` that is set when the service stops, and should return soon after.
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

    def start(self) -> None:
        self.stop_event.clear()
        for attr, spec in collect_task_specs(type(self.owner)):
            method = getattr(self.owner, attr)
            if spec.kind == "thread":
                self._start_thread(spec, method)
            else:
                runner = self._run_timer(spec, method) if spec.kind == "timer" else self._run_task(spec, method)
                self.tasks[spec.name] = asyncio.get_running_loop().create_task(runner, name=f"tamarco:{spec.name}")

    def add(self, name: str, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task of the service, cancelled when the service stops."""
        spec = TaskSpec("task", name)

        async def run() -> None:
            await self._guard(spec, lambda: coroutine)

        created = asyncio.get_running_loop().create_task(run(), name=f"tamarco:{name}")
        self.tasks[name] = created
        return created

    async def _guard(self, spec: TaskSpec, call: Callable[[], Any]) -> None:
        try:
            await call()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.logger.exception("task %s failed", spec.name)

    async def _run_task(self, spec: TaskSpec, method: Callable[[], Any]) -> None:
        await self._guard(spec, method)
        self.logger.debug("task %s finished", spec.name)

    async def _run_timer(self, spec: TaskSpec, method: Callable[[], Any]) -> None:
        loop = asyncio.get_running_loop()
        next_run = loop.time() + (0 if spec.autostart else spec.interval)
        while True:
            delay = next_run - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._guard(spec, method)
            if spec.one_shot:
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
            except Exception:
                self.logger.exception("thread %s failed", spec.name)

        worker = threading.Thread(target=target, name=f"tamarco:{spec.name}", daemon=True)
        self.threads[spec.name] = worker
        worker.start()

    async def stop(self, timeout: float) -> None:
        """Cancel the tasks and wait for them; ask threads to stop and wait up to ``timeout``."""
        self.stop_event.set()
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
            await loop.run_in_executor(None, worker.join, remaining)
            if worker.is_alive():
                self.logger.warning("thread %s did not stop within %.1f s", name, timeout)
        self.threads.clear()

"""Timers and exception monitors: context managers (sync and async) and decorators.

Each use measures on its own: one :class:`Timer` may time concurrent coroutines, nested
blocks and threads at the same time (starts are kept per task or thread, as a stack).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

__all__ = ["ExceptionMonitor", "Timer", "call_counter"]

F = TypeVar("F", bound=Callable[..., Any])


def _owner() -> object:
    """Who is timing: the running asyncio task, else the thread."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        task = None
    return task if task is not None else threading.get_ident()


class Timer:
    """Measure how long a block or a call takes and pass the seconds to ``callback``.

    ``with timer:``, ``async with timer:``, ``@timer`` on a function or a coroutine function.
    ``clock`` is ``time.perf_counter`` (monotonic, high resolution); ``elapsed`` is the last
    measured duration.
    """

    def __init__(self, callback: Callable[[float], Any], clock: Callable[[], float] = time.perf_counter) -> None:
        self.callback = callback
        self.clock = clock
        self.elapsed: float | None = None
        self._starts: dict[object, list[float]] = {}
        self._lock = threading.Lock()

    def _record(self, started: float) -> float:
        elapsed = self.clock() - started
        self.elapsed = elapsed
        self.callback(elapsed)
        return elapsed

    def __enter__(self) -> Timer:
        owner = _owner()
        with self._lock:
            self._starts.setdefault(owner, []).append(self.clock())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        owner = _owner()
        with self._lock:
            starts = self._starts[owner]
            started = starts.pop()
            if not starts:
                del self._starts[owner]
        self._record(started)

    async def __aenter__(self) -> Timer:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, function: F) -> F:
        """Time every call of ``function`` (the whole await for a coroutine function)."""
        clock = self.clock
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                started = clock()
                try:
                    return await function(*args, **kwargs)
                finally:
                    self._record(started)

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return function(*args, **kwargs)
            finally:
                self._record(started)

        return cast(F, wrapper)


class ExceptionMonitor:
    """Call ``callback()`` each time the block or the call raises ``exception``; re-raise it.

    A context manager (``with`` and ``async with``) and a decorator (functions and coroutine
    functions). What :meth:`Counter.count_exceptions` returns.
    """

    def __init__(
        self,
        callback: Callable[[], Any],
        exception: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    ) -> None:
        self.callback = callback
        self.exception = exception

    def __enter__(self) -> ExceptionMonitor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None and isinstance(exc, self.exception):
            self.callback()

    async def __aenter__(self) -> ExceptionMonitor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await function(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        return cast(F, wrapper)


def call_counter(function: F, on_call: Callable[[], Any]) -> F:
    """Wrap ``function`` so that ``on_call()`` runs each time it starts running.

    For a coroutine function that is when the coroutine starts (is awaited), not when it is
    merely created.
    """
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            on_call()
            return await function(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        on_call()
        return function(*args, **kwargs)

    return cast(F, wrapper)

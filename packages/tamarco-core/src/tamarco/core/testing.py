"""Helpers for the tests of a service, in the test's own event loop.

- :func:`serving` runs a :class:`~tamarco.core.microservice.Microservice` until the block ends
  (``tamarco.core.messaging.testing`` adds :func:`use_in_memory` for its messaging resources);
- :func:`wait_until` polls a condition with a deadline: the one way Tamarco's tests (and
  yours) wait for something to become true, instead of sleeping.

Subprocess services (``ServiceProcess``) and real brokers are the harness's (``tamarco.harness``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["serving", "wait_until"]


async def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition", *, interval: float = 0.01
) -> None:
    """Poll ``predicate`` every ``interval`` s until it is true; ``AssertionError`` naming
    ``what`` after ``timeout`` seconds (a failed test, not a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serving(service: Any, timeout: float = 10.0) -> AsyncIterator[Any]:
    """Run ``service`` (a Microservice) in this event loop until the block ends, then stop it.

    Waits until the service runs (its resources started, tasks running); raises the start error
    if it fails to start, and ``TimeoutError`` after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    running = asyncio.Event()

    async def mark_running() -> None:
        running.set()

    hook = service.hooks.on_running(mark_running)
    runner = loop.create_task(service.run_until_stopped())
    waiting = loop.create_task(running.wait())
    try:
        await asyncio.wait({runner, waiting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        hook.remove()
    if runner.done():
        raise RuntimeError(f"service {service.name!r} did not start (exit code {runner.result()}); see its log")
    if not running.is_set():
        await service.stop_gracefully()
        await asyncio.gather(runner, return_exceptions=True)
        raise TimeoutError(f"service {service.name!r} not running after {timeout:g} s")
    try:
        yield service
    finally:
        await service.stop_gracefully()
        await asyncio.wait_for(runner, timeout + service.shutdown_timeout())

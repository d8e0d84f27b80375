"""Unit-test a service's message handlers without a broker (FastStream's TestBroker idea).

::

    from tamarco.core.messaging.testing import serving, use_in_memory

    async def test_cows_are_answered():
        service = MyService()
        broker = use_in_memory(service)          # every messaging resource -> one in-memory broker
        async with serving(service):
            assert await service.amqp.outputs["cows"].request({"cow": "MOO"}) == {"cat": "MEOW"}

The handlers, codecs, retries, dead-lettering and concurrency bound are the real ones (they are
the core's); only the broker is replaced. Functional tests against a real broker (the harness)
remain the reference for what the broker itself does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tamarco.core.messaging._resource import MessagingResource
from tamarco.core.messaging.memory import InMemoryBroker, InMemoryTransport

__all__ = ["serving", "use_in_memory"]


def use_in_memory(service: Any, broker: InMemoryBroker | None = None) -> InMemoryBroker:
    """Give every :class:`MessagingResource` of ``service`` an in-memory transport on ``broker``
    (a new one by default, returned). Call before the service starts."""
    broker = broker or InMemoryBroker()
    found = False
    for resource in service.resources.values():
        if isinstance(resource, MessagingResource):
            resource.use_transport(InMemoryTransport(broker))
            found = True
    if not found:
        raise ValueError(f"service {service.name!r} has no messaging resource to put in memory")
    return broker


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

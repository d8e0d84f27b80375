"""Closing aiokafka clients in bounded time.

With the broker gone, ``AIOKafkaProducer.stop`` waits for its pending batches and
``AIOKafkaConsumer.stop`` for its retries — longer than a service's shutdown timeout — and a
``CancelledError`` of aiokafka's own tasks can come out of them. Run in a task of their own, they
are given ``timeout`` seconds, then cancelled; a cancellation of the caller still propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["close_within"]


async def close_within(closing: Coroutine[Any, Any, Any], timeout: float) -> str | None:
    """Run ``closing`` for up to ``timeout`` seconds; ``None`` when it finished cleanly, else
    why not (``"timed out"`` or the error) for the caller to log."""
    task = asyncio.get_running_loop().create_task(closing)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return f"timed out after {timeout:g} s"
    if task.cancelled():
        return "cancelled inside aiokafka"
    error = task.exception()
    return None if error is None else f"{type(error).__name__}: {error}"

"""tamarco.core.deadlines: the one public home of within, close_within and Backoff."""

from __future__ import annotations

import asyncio

import pytest
import tamarco.core.etcd
from tamarco.core import deadlines


async def test_close_within_reports_instead_of_raising() -> None:
    async def clean() -> None:
        await asyncio.sleep(0)

    async def failing() -> None:
        raise OSError("broker gone")

    async def stuck() -> None:
        await asyncio.Event().wait()

    assert await deadlines.close_within(clean(), 1) is None
    assert await deadlines.close_within(failing(), 1) == "OSError: broker gone"
    assert await deadlines.close_within(stuck(), 0.01) == "timed out after 0.01 s"


async def test_close_within_lets_the_callers_cancellation_through() -> None:
    closing = asyncio.ensure_future(deadlines.close_within(asyncio.Event().wait(), 10))
    await asyncio.sleep(0)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing


async def test_within_times_out_and_backoff_doubles_to_its_maximum() -> None:
    with pytest.raises(TimeoutError):
        await deadlines.within(asyncio.Event().wait(), 0.01)
    backoff = deadlines.Backoff(0.5, 1.5)
    assert [backoff.next_delay() for _ in range(4)] == [0.5, 1.0, 1.5, 1.5]


def test_etcd_reexports_the_same_objects() -> None:
    assert tamarco.core.etcd.within is deadlines.within
    assert tamarco.core.etcd.Backoff is deadlines.Backoff

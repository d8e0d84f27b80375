"""The collector stuck or refusing, against the harness's OTLP receiver: spans are dropped and
counted, the service's work never waits for the export, one warning at most."""

from __future__ import annotations

import asyncio
import logging

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.tracing._sdk import MAX_QUEUE_SIZE

pytestmark = pytest.mark.functional


def traced(endpoint: str, **tracing: object) -> MicroserviceContext:
    cls = type("Traced", (MicroserviceContext,), {"name": "collector_faults"})
    ctx = cls(environ={})
    ctx.settings.update_internal({"system": {"tracing": {"enabled": True, "endpoint": endpoint, **tracing}}})
    return ctx


async def test_a_stuck_collector_fills_the_queue_drops_are_counted_work_goes_on(otlp_collector):
    otlp_collector.set_behaviour(delay=30)  # every export waits 30 s for its answer
    ctx = traced(otlp_collector.url, timeout=20)
    with capture_logs() as logs:
        await ctx.start()
        try:
            ended = 0
            for _batch in range(6):
                for _ in range(MAX_QUEUE_SIZE // 2):
                    with ctx.tracing.span("work"):
                        ended += 1
                await asyncio.sleep(0)  # the loop keeps turning: nothing above waited for the collector
            report = ctx.tracing.report()
            # All the work ran while the first export was still waiting for the collector.
            assert ended == 6 * (MAX_QUEUE_SIZE // 2)
            assert report["spans_exported"] == 0
            assert report["spans_dropped"] >= ended - MAX_QUEUE_SIZE - 512  # the queue, the batch in flight
        finally:
            otlp_collector.set_behaviour()
            await ctx.stop()
    warnings = [r for r in logs if r.logger == "tamarco.tracing" and r.levelno == logging.WARNING]
    assert 1 <= len(warnings) <= 2, [r.message for r in warnings]  # queue full, then maybe the stop's flush
    assert "/status counts them" in warnings[0].message


async def test_a_refusing_collector_counts_failed_exports_and_names_the_status(otlp_collector):
    otlp_collector.set_behaviour(status=400)
    async with traced(otlp_collector.url) as ctx:
        with ctx.tracing.span("refused"):
            pass
        exporting = ctx.tracing._exporting
        assert exporting is not None
        await asyncio.to_thread(exporting.provider.force_flush)
        report = ctx.tracing.report()
        assert report["failed_exports"] == 1 and report["spans_dropped"] == 1
        assert "400" in report["last_error"]
    otlp_collector.set_behaviour()

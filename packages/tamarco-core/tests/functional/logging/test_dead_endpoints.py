"""Unreachable log endpoints: the loop keeps its pace, one warning per outage, drops reported.

Endpoints are loopback ports: "closed" (nothing listens, connections are refused) and
"silent" (a socket that listens but never accepts or answers, so every request can only end
by timing out: the case a blocking client would hang on).
"""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tamarco.core.logging.testing import CapturedLogs, capture_logs
from tamarco.core.microservice import MicroserviceContext

pytestmark = pytest.mark.functional

RATE_PER_TICK = 100  # records every 10 ms: 10k records/s
DURATION = 1.5


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose connections are queued by the kernel but never accepted nor answered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # released at once: connections are refused


async def measure_loop_lag(stop: asyncio.Event) -> list[float]:
    """How late each 1 ms sleep wakes up, until ``stop`` is set."""
    lags = []
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - started - 0.001)
    return lags


async def log_hard(ctx: MicroserviceContext, marker: str) -> int:
    count = 0
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        for _ in range(RATE_PER_TICK):
            ctx.logger.info("burst %s %d", marker, count, extra={"n": count})
            count += 1
        await asyncio.sleep(0.01)
    return count


def warnings_about(logs: CapturedLogs, handler: str, text: str) -> list[Any]:
    found = logs.filter(logger="tamarco.logging", contains=text)
    return [record for record in found if record.extra.get("logging_handler") == handler]


@pytest.mark.parametrize("kind", ["closed", "silent"])
async def test_dead_endpoints_do_not_block_the_loop(kind: str, silent_port: int, unique_name: str) -> None:
    port = closed_port() if kind == "closed" else silent_port
    tree: dict[str, Any] = {
        "stdout": False,
        "redis": {"enabled": True, "port": port, "queue_size": 2000, "timeout_seconds": 1},
        "http": {
            "enabled": True,
            "url": f"http://127.0.0.1:{port}/",
            "queue_size": 2000,
            "max_records": 50,
            "max_time_seconds": 0.05,
            "timeout_seconds": 1,
        },
        "flush_timeout_seconds": 0.5,
    }
    if kind == "closed":
        tree["logstash"] = {"enabled": True, "port": port, "queue_size": 2000}
    ctx = MicroserviceContext("logs_dead_" + kind, environ={})
    ctx.settings.update_internal({"system": {"logging": tree}})
    with capture_logs() as logs:
        async with ctx:
            stop = asyncio.Event()
            monitor = asyncio.create_task(measure_loop_lag(stop))
            sent = await log_hard(ctx, unique_name)
            stop.set()
            lags = await monitor
            stats = ctx.logging.statistics()
            ctx.logger.info("still running %s", unique_name)
            assert ctx.state == "running"
        await logs.wait_for(message=f"still running {unique_name}", timeout=1)

    lags.sort()
    p99 = lags[int(len(lags) * 0.99)]
    print(
        f"\n{kind}: {sent} records in {DURATION} s; loop lag median {statistics.median(lags) * 1000:.2f} ms, "
        f"p99 {p99 * 1000:.2f} ms, max {lags[-1] * 1000:.2f} ms; {stats}"
    )
    # Generous bounds for a shared 2-core machine; a blocking send would hold the loop for the
    # 1 s timeout (silent) or for every retry (closed).
    assert p99 < 0.1 and lags[-1] < 0.5
    assert len(lags) > DURATION / 0.01  # the monitor kept ticking throughout

    for name in ("redis", "http"):
        assert stats[name].in_outage and stats[name].sent == 0 and stats[name].dropped > 0
        outage = warnings_about(logs, name, "cannot send")
        assert len(outage) == 1, [r.message for r in outage]  # one warning per outage
        reports = warnings_about(logs, name, "dropped")
        assert reports, "the drops were not reported"
        final_total = int(re.search(r"\((\d+) in total", reports[-1].message).group(1))  # type: ignore[union-attr]
        # The final report, at stop, also counts what was still queued then.
        assert final_total >= stats[name].dropped + stats[name].queued
    if kind == "closed":
        # Nothing listening on UDP is invisible to the sender: datagrams go out, nothing blocks.
        assert stats["logstash"].sent + stats["logstash"].dropped + stats["logstash"].queued >= sent


async def test_drop_counter_metric_when_metrics_is_installed(unique_name: str) -> None:
    metrics = pytest.importorskip("tamarco.resources.basic.metrics")
    if not hasattr(metrics, "Counter"):
        pytest.skip("tamarco-metrics does not export Counter yet")
    ctx = MicroserviceContext("logs_drop_metric", environ={})
    ctx.settings.update_internal(
        {
            "system": {
                "logging": {
                    "stdout": False,
                    "redis": {"enabled": True, "port": closed_port(), "queue_size": 10},
                    "flush_timeout_seconds": 0.2,
                }
            }
        }
    )
    with capture_logs() as logs:
        async with ctx:
            for index in range(100):
                ctx.logger.info("overflow %s %d", unique_name, index)
            dropped = ctx.logging.statistics()["redis"].dropped
            assert dropped >= 80
            counter = metrics.Counter("tamarco_logging_dropped_records", "records", labels={"handler": "redis"})
            await logs.wait_for(contains="dropped", logger="tamarco.logging", timeout=5)
            assert counter.value >= 80

"""etcd put → Settings watch callback latency, against a raw aetcd watch in the same run.

A real etcd from tamarco-harness (``Harness("local")`` unless ``TAMARCO_HARNESS_BACKEND`` says
otherwise). One process, one event loop, three etcd connections: a writer, a raw
``aetcd.Client.watch`` on one key, and ``Settings`` with an ``EtcdSettingsBackend`` whose
``watch("system.bench.value", callback)`` is timed. The puts alternate between the two keys,
one at a time: latency is from just before ``put`` is awaited to the moment the raw watch
yields the event, or the Settings callback runs (JSON decode, cache update, watcher
dispatch included).

Target (PERFORMANCE.md): etcd put → watch callback p99 ≤ 50 ms.

Usage::

    .venv/bin/python benchmarks/etcd_watch_latency.py               # 500 puts each, ~15 s
    .venv/bin/python benchmarks/etcd_watch_latency.py --puts 50     # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

NAMESPACE = "/bench-etcd-watch"
RAW_KEY = b"/bench-etcd-watch-raw/value"
SETTINGS_KEY = "system.bench.value"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(host: str, port: int, puts: int, pause: float) -> dict[str, list[float]]:
    import aetcd
    from tamarco.core.settings.backends.etcd import EtcdConnectionConfig, EtcdSettingsBackend
    from tamarco.core.settings.settings import Settings

    writer = aetcd.Client(host, port)
    watcher = aetcd.Client(host, port)
    settings = Settings(
        microservice_name="etcd_watch_latency",
        backend=EtcdSettingsBackend(EtcdConnectionConfig(host=host, port=port, namespace=NAMESPACE)),
    )
    settings_key = f"{NAMESPACE}/{SETTINGS_KEY.replace('.', '/')}".encode()
    await writer.put(settings_key, b"-1")
    await settings.start()

    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    def arrive(value: str) -> None:
        arrived[value] = time.perf_counter()
        event = waiting.get(value)
        if event is not None:
            event.set()

    async def on_setting(key: str, value: Any) -> None:
        arrive(str(value))

    await settings.watch(SETTINGS_KEY, on_setting)
    raw_watch = await watcher.watch(RAW_KEY)

    async def consume_raw() -> None:
        async for event in raw_watch:
            arrive(event.kv.value.decode())

    consumer = asyncio.get_running_loop().create_task(consume_raw())
    latencies: dict[str, list[float]] = {"aetcd": [], "tamarco": []}
    try:
        backend = settings.backend
        assert isinstance(backend, EtcdSettingsBackend)
        await asyncio.wait_for(backend.watching.wait(), 10)
        for number in range(puts):
            for side, key in (("aetcd", RAW_KEY), ("tamarco", settings_key)):
                value = f"{side[0]}{number}" if side == "aetcd" else str(number)
                event = waiting[value] = asyncio.Event()
                payload = value.encode() if side == "aetcd" else json.dumps(number).encode()
                sent = time.perf_counter()
                await writer.put(key, payload)
                await asyncio.wait_for(event.wait(), 10)
                latencies[side].append((arrived.pop(value) - sent) * 1000)
                del waiting[value]
                await asyncio.sleep(pause)
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await raw_watch.cancel()
        await settings.stop()
        await watcher.close()
        await writer.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puts", type=int, default=500, help="puts per side")
    parser.add_argument("--pause", type=float, default=0.01, help="seconds between puts")
    parser.add_argument(
        "--loop",
        choices=("auto", "uvloop", "asyncio"),
        default="auto",
        help="event loop, as Microservice.event_loop (auto: uvloop when installed)",
    )
    args = parser.parse_args()

    from tamarco.core.microservice import run_coroutine
    from tamarco.harness import Harness

    with Harness(os.environ.get("TAMARCO_HARNESS_BACKEND", "local")) as harness:
        etcd = harness.etcd
        print(
            f"etcd watch latency, {args.puts} puts per side, {args.loop} loop, etcd at {etcd.host}:{etcd.port}, "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
            flush=True,
        )

        async def run() -> int:
            nonlocal results
            results = await measure(etcd.host, etcd.port, args.puts, args.pause)
            return 0

        results: dict[str, list[float]] = {}
        run_coroutine(run(), args.loop)

    raw, ours = results["aetcd"], results["tamarco"]
    print()
    print(f"{'latency (ms)':<14}{'aetcd watch':>12}{'tamarco':>10}{'ratio':>8}   {'target':<10}{'result':>6}")
    for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        raw_value, our_value = percentile(raw, fraction), percentile(ours, fraction)
        target, verdict = ("≤ 50 ms", "PASS" if our_value <= 50 else "MISS") if name == "p99" else ("", "")
        print(
            f"{name:<14}{raw_value:>12.2f}{our_value:>10.2f}{our_value / raw_value:>7.2f}x   {target:<10}{verdict:>6}"
        )
    print(f"{'mean':<14}{statistics.fmean(raw):>12.2f}{statistics.fmean(ours):>10.2f}")
    return 0 if percentile(ours, 0.99) <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())

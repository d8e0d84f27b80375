"""Report server overhead: ``GET /health/live`` and ``GET /metrics`` inside a Microservice vs
bare ``aiohttp.web`` serving equivalent handlers.

Each server runs in its own process (this script again with ``--serve``), load from ``wrk``
(or a built-in aiohttp client without it), variants interleaved round by round, medians
compared in the same run.

Variants:

- ``aiohttp`` (baseline): ``aiohttp.web`` with ``AppRunner(access_log=None)`` + ``TCPSite`` on
  the event loop ``Microservice.run()`` uses (uvloop when installed), serving
  ``/health/live`` (``json_response`` of the same fields as the status resource's) and
  ``/metrics`` (prometheus-client's ``generate_latest`` over a registry holding the same
  meters as the service: a labelled counter, a gauge, and a collector for the summary's
  quantiles, which prometheus-client's ``Summary`` lacks; both bodies hold the same 11 samples);
- ``tamarco``: ``Microservice.run()`` with the default resources (report server, status,
  metrics, ...), no other resource, and a few meters (a counter with 3 label values, a
  gauge, a summary) updated once;
- ``aiohttp-asyncio``: the baseline on the stdlib event loop (for reference).

Target (PERFORMANCE.md): report-server endpoints ≥ 0.95x bare aiohttp. The server's CPU time
per request is printed too: on a shared machine it drifts less than requests/s.

Usage::

    .venv/bin/python benchmarks/report_server_overhead.py                     # 3 rounds x 5 s
    .venv/bin/python benchmarks/report_server_overhead.py --duration 1 --rounds 1
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
VARIANTS = ("aiohttp", "tamarco", "aiohttp-asyncio")
ENDPOINTS = ("/health/live", "/metrics")
LABELS = ("200", "404", "500")


# -- servers (run in a child process) ------------------------------------------------------


class QuantileSummary:
    """A prometheus-client collector of a summary with quantiles, computed at each scrape from
    the observations (prometheus-client's own ``Summary`` exports count and sum only; a
    Tamarco ``Summary`` also exports these quantiles, so both bodies hold the same samples)."""

    quantiles = (0.5, 0.75, 0.9, 0.95, 0.99)

    def __init__(self, name: str, observations: list[float]) -> None:
        self.name = name
        self.observations = observations

    def collect(self) -> Any:
        from prometheus_client.metrics_core import Metric

        metric = Metric(self.name, "seconds", "summary")
        ordered = sorted(self.observations)
        for quantile in self.quantiles:
            rank = max(0, min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1))
            metric.add_sample(self.name, {"quantile": str(quantile)}, ordered[rank])
        metric.add_sample(self.name + "_count", {}, float(len(ordered)))
        metric.add_sample(self.name + "_sum", {}, float(sum(ordered)))
        yield metric


def serve_aiohttp(port: int, use_uvloop: bool) -> None:
    import asyncio
    import json

    import prometheus_client
    from aiohttp import web
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    prometheus_client.disable_created_metrics()
    requests = prometheus_client.Counter(
        "bench_requests", "requests", ["status_code"], registry=registry, unit="requests"
    )
    for label in LABELS:
        requests.labels(label).inc()
    prometheus_client.Gauge("bench_connections", "connections", registry=registry).set(3)
    registry.register(QuantileSummary("bench_latency_seconds", [0.25]))
    state = {"state": "running"}

    async def live(request: web.Request) -> web.Response:
        body = {"state": state["state"], "loop_lag_seconds": 0.0, "loop_lag_threshold_seconds": 1.0, "live": True}
        return web.json_response(body, dumps=json.dumps)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), headers={"Content-Type": "text/plain; version=0.0.4"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/health/live", live)
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    if use_uvloop:
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def serve_tamarco(port: int) -> None:
    from tamarco.core.microservice import Microservice
    from tamarco.resources.basic.metrics import Counter, Gauge, Summary

    class ReportService(Microservice):
        name = "report_server_overhead"

    service = ReportService()
    service.settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION"},
                "resources": {"tamarco_http_report_server": {"host": HOST, "port": port}},
            }
        }
    )
    requests = Counter("bench_requests", "requests")
    for label in LABELS:
        requests.new_labels({"status_code": label}).inc()
    Gauge("bench_connections", "connections").set(3)
    Summary("bench_latency", "seconds").observe(0.25)
    service.run()


# -- load ----------------------------------------------------------------------------------


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {timeout} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/<pid>/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(variant: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """``{path: (requests/s, server CPU µs per request)}``."""
    from http_overhead import free_port, run_aiohttp_load, run_wrk

    port = free_port()
    command = [sys.executable, __file__, "--serve", variant, "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://{HOST}:{port}"
    try:
        wait_ready(base + "/health/live", process)
        rates = {}
        for path in ENDPOINTS:
            cpu, started = cpu_seconds(process.pid), time.monotonic()
            if args.client == "wrk":
                rps, answered = run_wrk(base + path, args.duration, args.threads, args.connections)
            else:
                rps, answered = run_aiohttp_load(base + path, args.duration, args.connections)
            requests = answered or rps * (time.monotonic() - started)
            rates[path] = (rps, (cpu_seconds(process.pid) - cpu) / requests * 1e6)
        return rates
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per variant (median shown)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve == "tamarco":
        serve_tamarco(args.port)
        return 0
    if args.serve:
        serve_aiohttp(args.port, use_uvloop=args.serve == "aiohttp")
        return 0

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "aiohttp"
    print(
        f"report server, {args.client} ({args.connections} connections), {args.duration:g} s x {args.rounds} "
        f"rounds per endpoint, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[tuple[str, str], list[float]] = {(v, p): [] for v in VARIANTS for p in ENDPOINTS}
    cpu: dict[tuple[str, str], list[float]] = {(v, p): [] for v in VARIANTS for p in ENDPOINTS}
    for round_number in range(1, args.rounds + 1):
        for variant in VARIANTS:
            for path, (rps, cpu_us) in measure(variant, args).items():
                results[variant, path].append(rps)
                cpu[variant, path].append(cpu_us)
                print(
                    f"  round {round_number}  {variant:<16} {path:<13} {rps:>10,.0f} req/s  "
                    f"server CPU {cpu_us:5.1f} us/request",
                    flush=True,
                )

    print()
    print(
        f"{'endpoint':<14}{'aiohttp':>10}{'tamarco':>10}{'ratio':>8}{'aiohttp-asyncio':>17}"
        f"{'per-round ratios':>20}   {'target':<8}{'result':>7}"
    )
    failures = 0
    for path in ENDPOINTS:
        raw = statistics.median(results["aiohttp", path])
        ours = statistics.median(results["tamarco", path])
        reference = statistics.median(results["aiohttp-asyncio", path])
        per_round = ", ".join(
            f"{o / r:.2f}" for o, r in zip(results["tamarco", path], results["aiohttp", path], strict=True)
        )
        ok = ours / raw >= 0.95
        failures += not ok
        print(
            f"{path:<14}{raw:>10,.0f}{ours:>10,.0f}{ours / raw:>7.2f}x{reference:>17,.0f}"
            f"{per_round:>20}   {'≥ 0.95x':<8}{'PASS' if ok else 'MISS':>7}"
        )
    print()
    print("server CPU per request (median us; less sensitive than req/s to other processes on the machine):")
    for path in ENDPOINTS:
        raw_cpu, our_cpu = statistics.median(cpu["aiohttp", path]), statistics.median(cpu["tamarco", path])
        print(f"  {path:<14} aiohttp {raw_cpu:5.1f}  tamarco {our_cpu:5.1f}  ratio {our_cpu / raw_cpu:.2f}x")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())

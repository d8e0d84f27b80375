"""HTTP overhead: a hello-world route through HTTPServerResource in a Microservice vs bare Sanic.

Each server runs in its own process (this script started again with ``--serve``); the load
comes from ``wrk`` (Debian package ``wrk``) or, without it, from a built-in aiohttp client.
Every variant is measured ``--rounds`` times, interleaved, and the medians are compared in the
same run (the machine drifts between runs: never compare numbers across runs).

Variants:

- ``sanic``: bare Sanic, ``app.run(single_process=True)``, as Sanic runs by default (uvloop
  when installed): the baseline;
- ``tamarco``: ``Microservice.run()`` (uvloop when installed, like Sanic) with an
  ``HTTPServerResource`` and the default resources (report server, metrics, status...),
  default settings (per-route meters on when tamarco-metrics is installed);
- ``tamarco-nometrics``: the same with ``metrics: false`` on the server resource;
- ``sanic-asyncio`` / ``tamarco-asyncio`` (with ``--loops``): both on the stdlib event loop
  (Sanic's ``USE_UVLOOP = False``, the service's ``event_loop = "asyncio"``);
- ``tamarco-before`` (with ``--before-src DIR``): ``tamarco`` served with ``DIR`` first on
  ``PYTHONPATH``, e.g. tamarco-http's ``src`` exported from an older commit, to compare a change
  before and after in one run.

Besides requests per second, each measurement reports the server's CPU time per request
(user + system, from ``/proc``): on a machine shared with the load generator and other work,
it moves much less than the throughput between rounds.

Usage::

    .venv/bin/python benchmarks/http_overhead.py                 # 3 rounds x 10 s, wrk -t2 -c64
    .venv/bin/python benchmarks/http_overhead.py --duration 2 --rounds 1 --loops
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
BODY = "Hello world!"
VARIANTS = ("sanic", "tamarco", "tamarco-nometrics")
LOOP_VARIANTS = ("sanic-asyncio", "tamarco-asyncio")


# -- servers (run in a child process) ------------------------------------------------------


def serve_sanic(port: int, use_uvloop: bool) -> None:
    from sanic import Sanic
    from sanic.response import text

    app = Sanic("bare_sanic", configure_logging=False)
    app.config.USE_UVLOOP = use_uvloop

    @app.route("/")
    async def index(request):
        return text(BODY)

    app.run(host=HOST, port=port, single_process=True, access_log=False, motd=False)


def serve_tamarco(port: int, meters: bool, use_uvloop: bool) -> None:
    """The service as ``Microservice.run()`` runs it: uvloop when installed, unless not asked."""
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class HelloService(Microservice):
        name = "http_overhead"
        event_loop = "auto" if use_uvloop else "asyncio"
        http_server = HTTPServerResource()

    service = HelloService()
    service.settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION"},
                "resources": {
                    "http_server": {"host": HOST, "port": port, "metrics": meters},
                    "tamarco_http_report_server": {"port": 0},
                },
            }
        }
    )

    @service.http_server.app.route("/")
    async def index(request):
        return text(BODY)

    service.run()


# -- load generation -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200 and response.read().decode() == BODY:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {timeout} s")


def run_wrk(url: str, duration: float, threads: int, connections: int) -> tuple[float, int]:
    """``(requests per second, requests answered)``."""
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx responses:\n{output}")
    total = re.search(r"(\d+) requests in", output)
    return float(match.group(1)), int(total.group(1)) if total else 0


def run_aiohttp_load(url: str, duration: float, connections: int) -> tuple[float, int]:
    import aiohttp

    async def worker(session: aiohttp.ClientSession, deadline: float, counts: list[int]) -> None:
        done = 0
        while time.monotonic() < deadline:
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")
            done += 1
        counts.append(done)

    async def main() -> tuple[float, int]:
        counts: list[int] = []
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.monotonic()
            deadline = started + duration
            await asyncio.gather(*(worker(session, deadline, counts) for _ in range(connections)))
            return sum(counts) / (time.monotonic() - started), sum(counts)

    return asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (NaN where ``/proc`` is missing)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(variant: str, args: argparse.Namespace) -> tuple[float, float]:
    """``(requests per second, server CPU microseconds per request)`` of one run."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", variant, "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    if variant == "tamarco-before":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (args.before_src, os.environ.get("PYTHONPATH"))))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{HOST}:{port}/"
    try:
        wait_ready(url, process)
        cpu_before = cpu_seconds(process.pid)
        if args.client == "wrk":
            rps, total = run_wrk(url, args.duration, args.threads, args.connections)
        else:
            rps, total = run_aiohttp_load(url, args.duration, args.connections)
        cpu = cpu_seconds(process.pid) - cpu_before
        return rps, cpu / total * 1e6 if total else math.nan
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per variant (median shown)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--loops", action="store_true", help="also measure the event-loop variants")
    parser.add_argument("--before-src", help="also measure tamarco-before: tamarco with this dir first on PYTHONPATH")
    parser.add_argument("--serve", choices=(*VARIANTS, *LOOP_VARIANTS, "tamarco-before"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        if args.serve.startswith("sanic"):
            serve_sanic(args.port, use_uvloop=not args.serve.endswith("-asyncio"))
        else:
            serve_tamarco(
                args.port, meters=args.serve != "tamarco-nometrics", use_uvloop=not args.serve.endswith("-asyncio")
            )
        return

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "aiohttp"
    variants = VARIANTS + (LOOP_VARIANTS if args.loops else ()) + (("tamarco-before",) if args.before_src else ())
    print(
        f"HTTP hello-world, {args.client} ({args.connections} connections"
        f"{f', {args.threads} threads' if args.client == 'wrk' else ''}), {args.duration:g} s x {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_number in range(1, args.rounds + 1):
        for variant in variants:
            rps, cpu_us = measure(variant, args)
            results[variant].append(rps)
            cpu[variant].append(cpu_us)
            print(
                f"  round {round_number}  {variant:<18} {rps:>10,.0f} req/s {cpu_us:>8.1f} us CPU/request", flush=True
            )

    baseline = statistics.median(results["sanic"])
    baseline_cpu = statistics.median(cpu["sanic"])
    print()
    print(
        f"{'variant':<20}{'median req/s':>14}{'vs bare Sanic':>16}{'per-round ratios':>20}"
        f"{'us CPU/req':>12}{'CPU ratio':>11}"
    )
    for variant in variants:
        median = statistics.median(results[variant])
        rounds = [ours / sanic for ours, sanic in zip(results[variant], results["sanic"], strict=True)]
        spread = f"{min(rounds):.2f}-{max(rounds):.2f}"  # each round against Sanic's same round
        cpu_median = statistics.median(cpu[variant])
        print(
            f"{variant:<20}{median:>14,.0f}{median / baseline:>15.2f}x{spread:>20}"
            f"{cpu_median:>12.1f}{baseline_cpu / cpu_median:>10.2f}x"
        )
    ratio = statistics.median(results["tamarco"]) / baseline
    print("(CPU ratio: bare Sanic's CPU time per request / the variant's; 1.00 = as cheap as Sanic)")
    print()
    print(f"HTTPServerResource in a Microservice / bare Sanic = {ratio:.2f} (target >= 0.95)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()

"""HTTP overhead: a hello-world route through HTTPServerResource in a Microservice vs bare Sanic.

Each server runs in its own process (this script started again with ``--serve``); the load
comes from ``wrk`` (Debian package ``wrk``) or, without it, from a built-in aiohttp client.
Every variant is measured ``--rounds`` times, interleaved, and the medians are compared in the
same run (the machine drifts between runs: never compare numbers across runs).

Variants:

- ``sanic``: bare Sanic, ``app.run(single_process=True)``, as Sanic runs by default (uvloop
  when installed): the baseline;
- ``tamarco``: ``Microservice.run()`` with an ``HTTPServerResource`` and the default
  resources (report server, metrics, status...), default settings (per-route meters on when
  tamarco-metrics is installed);
- ``tamarco-nometrics``: the same with ``metrics: false`` on the server resource;
- ``sanic-asyncio`` / ``tamarco-uvloop`` (with ``--loops``): bare Sanic on the stdlib loop and
  the service on uvloop, to tell the event loop's share from Tamarco's own.

Usage::

    .venv/bin/python benchmarks/http_overhead.py                 # 3 rounds x 10 s, wrk -t2 -c64
    .venv/bin/python benchmarks/http_overhead.py --duration 2 --rounds 1 --loops
"""

from __future__ import annotations

import argparse
import asyncio
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
LOOP_VARIANTS = ("sanic-asyncio", "tamarco-uvloop")


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
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class HelloService(Microservice):
        name = "http_overhead"
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

    if use_uvloop:
        import uvloop

        raise SystemExit(uvloop.run(service.run_until_stopped()))
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


def run_wrk(url: str, duration: float, threads: int, connections: int) -> float:
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
    return float(match.group(1))


def run_aiohttp_load(url: str, duration: float, connections: int) -> float:
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

    async def main() -> float:
        counts: list[int] = []
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.monotonic()
            deadline = started + duration
            await asyncio.gather(*(worker(session, deadline, counts) for _ in range(connections)))
            return sum(counts) / (time.monotonic() - started)

    return asyncio.run(main())


def measure(variant: str, args: argparse.Namespace) -> float:
    port = free_port()
    command = [sys.executable, __file__, "--serve", variant, "--port", str(port)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{HOST}:{port}/"
    try:
        wait_ready(url, process)
        if args.client == "wrk":
            return run_wrk(url, args.duration, args.threads, args.connections)
        return run_aiohttp_load(url, args.duration, args.connections)
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
    parser.add_argument("--serve", choices=VARIANTS + LOOP_VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        if args.serve.startswith("sanic"):
            serve_sanic(args.port, use_uvloop=args.serve == "sanic")
        else:
            serve_tamarco(
                args.port, meters=args.serve != "tamarco-nometrics", use_uvloop=args.serve == "tamarco-uvloop"
            )
        return

    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "aiohttp"
    variants = VARIANTS + (LOOP_VARIANTS if args.loops else ())
    print(
        f"HTTP hello-world, {args.client} ({args.connections} connections"
        f"{f', {args.threads} threads' if args.client == 'wrk' else ''}), {args.duration:g} s x {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        flush=True,
    )
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_number in range(1, args.rounds + 1):
        for variant in variants:
            rps = measure(variant, args)
            results[variant].append(rps)
            print(f"  round {round_number}  {variant:<18} {rps:>10,.0f} req/s", flush=True)

    baseline = statistics.median(results["sanic"])
    print()
    print(f"{'variant':<20}{'median req/s':>14}{'vs bare Sanic':>16}")
    for variant in variants:
        median = statistics.median(results[variant])
        print(f"{variant:<20}{median:>14,.0f}{median / baseline:>15.2f}x")
    ratio = statistics.median(results["tamarco"]) / baseline
    print()
    print(f"HTTPServerResource in a Microservice / bare Sanic = {ratio:.2f} (target >= 0.95)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()

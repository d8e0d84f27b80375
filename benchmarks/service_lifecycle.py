"""Service lifecycle: process start → first 2xx, SIGTERM → exit, RSS, against bare Sanic.

Two servers, each started ``--runs`` times as a fresh process (this script again with
``--serve``), alternately, serving the same route (``text("Hello world!")``):

- ``sanic`` (baseline): bare Sanic, ``app.run(single_process=True)``;
- ``tamarco``: ``Microservice.run()`` with an ``HTTPServerResource`` and every default
  resource (report server, metrics, status, registry, profiler, memory analyzer), default
  settings except the ports.

Per run: *start → ready* is the time from ``Popen`` to the first 2xx answer on the route (the
parent polls with a raw socket every 2 ms); *RSS* is ``VmRSS`` of the process 0.3 s after it
answered; *SIGTERM → exit* is the time from the signal to the process being reaped, the
server idle (no connection open). Medians are compared in the same run.

Rounds are interleaved (one process of each variant per round, the order alternating), and
each round gives a ratio tamarco / Sanic: the median and the range of those per-round ratios
are printed next to the ratio of the medians.

Targets (PERFORMANCE.md): start → ready ≤ 1.5x bare Sanic, SIGTERM → exit < 100 ms,
RSS ≤ 1.3x bare Sanic.

Usage::

    .venv/bin/python benchmarks/service_lifecycle.py            # 10 runs each, ~30 s
    .venv/bin/python benchmarks/service_lifecycle.py --runs 2   # smoke run
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
BODY = "Hello world!"
VARIANTS = ("sanic", "tamarco")
POLL_SECONDS = 0.002
RSS_SETTLE_SECONDS = 0.3


# -- servers (run in a child process) ------------------------------------------------------


def serve_sanic(port: int) -> None:
    from sanic import Sanic
    from sanic.response import text

    app = Sanic("bare_sanic", configure_logging=False)

    @app.route("/")
    async def index(request):
        return text(BODY)

    app.run(host=HOST, port=port, single_process=True, access_log=False, motd=False)


def serve_tamarco(port: int) -> None:
    from sanic.response import text
    from tamarco.core.microservice import Microservice
    from tamarco.resources.io.http.resource import HTTPServerResource

    class HelloService(Microservice):
        name = "service_lifecycle"
        http_server = HTTPServerResource()

    service = HelloService()
    service.settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION"},
                "resources": {
                    "http_server": {"host": HOST, "port": port},
                    "tamarco_http_report_server": {"port": 0},
                },
            }
        }
    )

    @service.http_server.app.route("/")
    async def index(request):
        return text(BODY)

    service.run()


# -- measurement ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def answers_2xx(port: int) -> bool:
    """One ``GET /`` over a fresh connection (Connection: close); True on a 2xx status."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 2")


def cpu_time_ms(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from ``/proc`` (what other processes on the
    machine do not inflate, unlike the wall-clock start time)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_environment(pycache: str) -> dict[str, str]:
    """The servers' environment: bytecode cached (in ``pycache``), as in an installed service.

    Without it (``PYTHONDONTWRITEBYTECODE``, as in some dev shells) every start would compile
    Tamarco's sources while Sanic's come precompiled from site-packages.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SANIC_IGNORE_PRODUCTION_WARNING": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def measure(variant: str, env: dict[str, str]) -> tuple[float, float, float, float]:
    """(start → ready ms, SIGTERM → exit ms, RSS MiB, CPU ms to ready) of one fresh process."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", variant, "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = started + 30
        while not answers_2xx(port):
            if process.poll() is not None:
                raise RuntimeError(f"{variant} exited with {process.returncode} before answering")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{variant} did not answer within 30 s")
            time.sleep(POLL_SECONDS)
        ready_ms = (time.perf_counter() - started) * 1000
        cpu_ms = cpu_time_ms(process.pid)
        time.sleep(RSS_SETTLE_SECONDS)
        rss = rss_mib(process.pid)
        signalled = time.perf_counter()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        exit_ms = (time.perf_counter() - signalled) * 1000
        if process.returncode != 0:
            raise RuntimeError(f"{variant} exited with {process.returncode} after SIGTERM")
        return ready_ms, exit_ms, rss, cpu_ms
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="processes started per variant (median shown)")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve == "sanic":
        serve_sanic(args.port)
        return 0
    if args.serve == "tamarco":
        serve_tamarco(args.port)
        return 0

    print(f"service lifecycle, {args.runs} runs per variant, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="tamarco-bench-pycache-") as pycache:
        env = child_environment(pycache)
        for variant in VARIANTS:  # warm-up, not counted: writes the bytecode cache
            measure(variant, env)
        results = run_all(args.runs, env)
    return report(results)


def run_all(runs: int, env: dict[str, str]) -> dict[str, list[tuple[float, float, float, float]]]:
    results: dict[str, list[tuple[float, float, float, float]]] = {variant: [] for variant in VARIANTS}
    for run in range(1, runs + 1):
        for variant in VARIANTS if run % 2 else tuple(reversed(VARIANTS)):
            ready_ms, exit_ms, rss, cpu_ms = measure(variant, env)
            results[variant].append((ready_ms, exit_ms, rss, cpu_ms))
            print(
                f"  run {run:>2}  {variant:<8} start→ready {ready_ms:>7.0f} ms (CPU {cpu_ms:>5.0f} ms)  "
                f"SIGTERM→exit {exit_ms:>6.0f} ms  RSS {rss:>6.1f} MiB",
                flush=True,
            )
    return results


def report(results: dict[str, list[tuple[float, float, float, float]]]) -> int:
    def column(variant: str, index: int) -> list[float]:
        return [sample[index] for sample in results[variant]]

    print()
    print(
        f"{'measure':<22}{'bare Sanic':>12}{'tamarco':>12}{'ratio':>9}{'per-round':>12}{'range':>13}"
        f"   {'target':<22}{'result':>6}"
    )
    failures = 0
    rows = (
        ("start → ready (ms)", 0, "≤ 1.50x bare Sanic", lambda ours, raw, paired: paired <= 1.5),
        ("CPU to ready (ms)", 3, "(≤ 1.50x, load-proof)", lambda ours, raw, paired: paired <= 1.5),
        ("SIGTERM → exit (ms)", 1, "< 100 ms", lambda ours, raw, paired: ours < 100),
        ("RSS after start (MiB)", 2, "≤ 1.30x bare Sanic", lambda ours, raw, paired: paired <= 1.3),
    )
    for name, index, target, passes in rows:
        raw = statistics.median(column("sanic", index))
        ours = statistics.median(column("tamarco", index))
        ratios = [t / b for t, b in zip(column("tamarco", index), column("sanic", index), strict=True)]
        paired = statistics.median(ratios)
        ok = passes(ours, raw, paired)
        failures += not ok
        print(
            f"{name:<22}{raw:>12,.1f}{ours:>12,.1f}{ours / raw:>8.2f}x{paired:>11.2f}x"
            f"{f'{min(ratios):.2f}-{max(ratios):.2f}':>13}   {target:<22}{'PASS' if ok else 'MISS':>6}"
        )
    print()
    print(
        "spread (min-max): "
        + "; ".join(
            f"{variant} start {spread(column(variant, 0))} ms, exit {spread(column(variant, 1))} ms"
            for variant in VARIANTS
        )
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())

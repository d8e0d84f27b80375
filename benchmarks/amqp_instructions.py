"""AMQP client cost in instructions per message, under cachegrind: what a busy machine cannot blur.

The workloads and clients of ``amqp_throughput.py`` (the same functions: ``push→pull`` with
publisher confirms, persistent, at most 100 unconfirmed, prefetch 100, ack after the handler;
``publish→subscribe`` through a fanout exchange; ``request/response`` through direct reply-to),
each run in a fresh Python process under ``valgrind --tool=cachegrind --cache-sim=no``
(``PYTHONHASHSEED=0``) with ``N`` and then ``N + --extra`` messages: the difference of the
instruction counts divided by ``--extra`` is what one more message costs the client process
(publisher and consumer together; start, connection, declarations and exit cancel out).
RabbitMQ is the harness's, a separate process not counted. Each pair is measured ``--repeat``
times and the median kept (the broker's timing changes how many frames one read brings, so
counts move by a few percent between runs).

Usage::

    .venv/bin/python benchmarks/amqp_instructions.py                          # ~10 min
    .venv/bin/python benchmarks/amqp_instructions.py --workloads push --messages 300 --extra 1000
    .venv/bin/python benchmarks/amqp_instructions.py --profile push tamarco   # cProfile calls per message
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from typing import Any

import cachegrind
from amqp_throughput import harness_broker, raw_rpc, raw_stream, tamarco_rpc, tamarco_stream

CLIENTS = ("aio-pika", "tamarco")
WORKLOADS = {"push": "push→pull", "publish": "publish→subscribe", "request": "request/response, 1 in flight"}


def broker_of(url: str) -> dict[str, Any]:
    from yarl import URL

    parsed = URL(url)
    return {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.user,
        "password": parsed.password,
        "vhost": parsed.path[1:] or "/",
    }


async def serve(client: str, workload: str, count: int, url: str) -> None:
    if client == "aio-pika":
        if workload == "request":
            await raw_rpc(url, count, 1)
        else:
            await raw_stream(url, workload, count)
    elif workload == "request":
        await tamarco_rpc(broker_of(url), count, 1)
    else:
        await tamarco_stream(broker_of(url), workload, count)


def instructions(client: str, workload: str, count: int, url: str, env: dict[str, str], out: str) -> int:
    command = [
        sys.executable,
        __file__,
        "--serve",
        client,
        workload,
        "--messages",
        str(count),
        "--url",
        url,
    ]
    return cachegrind.count(f"{client} {workload}", command, env, out)


def profile(client: str, workload: str, count: int, url: str, top: int) -> None:
    """cProfile of one run in this process: function calls per message, the busiest functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(serve(client, workload, count, url))
    profiler.disable()
    stats = pstats.Stats(profiler)
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{client} {workload}: {calls / count:,.0f} function calls per message (setup included)")
    stats.sort_stats("tottime").print_stats(top)


def measure(args: argparse.Namespace, url: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    per_message: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="tamarco-bench-") as out_dir:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(out_dir, "pycache")
        for workload in args.workloads:
            for client in args.clients:
                # Once without valgrind first: the bytecode cache is written then, not counted in one run only.
                warm_up = [sys.executable, __file__, "--serve", client, workload, "--messages", "5", "--url", url]
                subprocess.run(warm_up, env=env, capture_output=True, timeout=600, check=True)
                samples = []
                for repeat in range(args.repeat):
                    out = os.path.join(out_dir, f"cachegrind.{client}.{workload}.{repeat}")
                    base = instructions(client, workload, args.messages, url, env, out + ".base")
                    more = instructions(client, workload, args.messages + args.extra, url, env, out + ".more")
                    samples.append((more - base) / args.extra)
                per_message[(workload, client)] = statistics.median(samples)
                spread = ", ".join(f"{sample:,.0f}" for sample in samples)
                print(
                    f"{WORKLOADS[workload]:<32} {client:<9} {per_message[(workload, client)]:>10,.0f} "
                    f"instructions/message (runs: {spread})",
                    flush=True,
                )
    if "aio-pika" in args.clients and "tamarco" in args.clients:
        print("\nratio = tamarco / aio-pika instructions per message (target <= 1.10)")
        for workload in args.workloads:
            raw, ours = per_message[(workload, "aio-pika")], per_message[(workload, "tamarco")]
            print(f"{WORKLOADS[workload]:<32} {raw:>10,.0f} {ours:>10,.0f} {ours / raw:>6.3f}x ({ours - raw:+,.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing broker (amqp://user:password@host:port/vhost)")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--extra", type=int, default=1000, help="messages added in the second run")
    parser.add_argument("--repeat", type=int, default=3, help="measurements per client and workload (median)")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS), choices=CLIENTS)
    parser.add_argument("--profile", nargs=2, metavar=("WORKLOAD", "CLIENT"), help="cProfile one run instead")
    parser.add_argument("--top", type=int, default=40, help="functions listed by --profile")
    parser.add_argument("--serve", nargs=2, metavar=("CLIENT", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve[0], args.serve[1], args.messages, args.url))
        return 0
    if args.url:
        run(args, args.url)
        return 0
    from tamarco.harness import Harness

    with Harness() as harness:
        harness_broker(harness.rabbitmq)  # started
        run(args, harness.rabbitmq.url)
    return 0


def run(args: argparse.Namespace, url: str) -> None:
    if args.profile:
        workload, client = args.profile
        profile(client, workload, args.messages + args.extra, url, args.top)
    else:
        measure(args, url)


if __name__ == "__main__":
    raise SystemExit(main())

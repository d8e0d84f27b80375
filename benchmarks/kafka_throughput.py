"""Produce→consume throughput of tamarco-kafka against raw aiokafka (and FastStream), one run,
one broker.

Each variant produces ``--messages`` JSON messages (fire-and-forget into the producer's batch)
to a fresh one-partition topic while its consumer, already in its group, reads them; the time
runs from the first send to the last message handled. Every variant decodes each message's
JSON and gives at-least-once delivery (commits only after handling):

- ``aiokafka``: ``AIOKafkaProducer.send`` and an ``AIOKafkaConsumer`` (auto-commit off, a
  commit every second) looping over ``getmany`` — what a hand-written service does;
- ``tamarco``: a ``KafkaResource`` in a ``MicroserviceContext``, ``KafkaOutput.send`` and a
  ``KafkaInput`` handler (the core's consumer: decode, handler, settle, meters; per-partition
  order; commits every second);
- ``faststream``: ``KafkaBroker.publish(no_confirm=True)`` and a subscriber with its default
  acknowledgement (auto-commit: at-most-once for a crash between commit and handling), and
  ``faststream-ack``: the same with ``AckPolicy.ACK`` (commit after each handled message,
  at-least-once; a fifth of the messages), when faststream is installed.

A second comparison, *acknowledged producing*: ``--produce`` messages (3,000) produced and
acknowledged by the broker as a user pipelines them: raw aiokafka's ``send`` futures gathered
(the baseline), ``KafkaOutput.push`` calls gathered at once, raw aiokafka's ``send`` with each
answer taken as it comes (a callback per future, what a producer relaying acknowledgements does;
``gather`` instead takes every answer at the end, after the last send), and raw aiokafka's
``send_and_wait`` calls gathered at once (what the producer does with many concurrent callers
waiting for a full batch: each is woken at every drain). It runs once per ``--linger`` value
(the producer's ``linger_ms``; default ``0,5``: aiokafka's and Tamarco's default, then 5 ms).

Same producer (acks=all, linger_ms=5 unless ``--linger`` says) and consumer
(fetch_max_wait_ms=50) settings everywhere. Variants run in turns, ``--rounds`` times, in an
order that rotates each round, each after a garbage collection. Printed: the median msg/s and
its ratio to aiokafka's median; the paired ratio (the median of each round's variant /
aiokafka); the process's CPU time per message and the CPU ratio (aiokafka's / the variant's).
Target for tamarco: >= 0.9.
The broker: ``$TAMARCO_KAFKA_BOOTSTRAP_SERVERS``, else one the harness starts (tansu locally).

Run: ``.venv/bin/python benchmarks/kafka_throughput.py [--messages 20000] [--produce 3000]
[--rounds 3] [--only produce|consume] [--linger 0,5]``.

``--instructions``: the client process's instructions per message instead, under
``valgrind --tool=cachegrind --cache-sim=no`` (the broker is another process, not counted):
each variant runs once with ``--messages`` (or ``--produce``) and once with ``--extra`` more;
the difference divided by ``--extra`` is one message's cost, start and exit cancelled out, and
the machine's load does not change it. ``--before-src DIR`` also counts the Tamarco variants
with an older checkout's ``packages/*/src`` first on ``PYTHONPATH`` (e.g. a ``git worktree``
of main), for before/after numbers from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import version
from typing import Any

import cachegrind
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

GROUP = {
    "session_timeout_ms": 1000,
    "heartbeat_interval_ms": 200,
    "rebalance_timeout_ms": 1000,
    "fetch_max_wait_ms": 50,
}
PRODUCER = {"acks": "all", "linger_ms": 5}
PAYLOAD = "x" * 100


class Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    """Sets ``event`` once the consumer got its partitions."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        if assigned:
            self.event.set()


def message(n: int) -> dict[str, Any]:
    return {"n": n, "payload": PAYLOAD}


async def new_topic(servers: str) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, replication_factor=1)])
    finally:
        await admin.close()
    return topic


async def run_aiokafka(servers: str, count: int) -> float:
    topic = await new_topic(servers)
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        group_id=f"{topic}.g",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **GROUP,
    )
    joined = Joined()
    await producer.start()
    await consumer.start()
    consumer.subscribe([topic], listener=joined)
    handled = 0
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal handled
        loop = asyncio.get_running_loop()
        next_commit = loop.time() + 1.0
        while handled < count:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    json.loads(record.value)
                    handled += 1
            if loop.time() >= next_commit:
                await consumer.commit()
                next_commit = loop.time() + 1.0
        await consumer.commit()
        done.set()

    try:
        reader = asyncio.create_task(consume())  # the group is joined while it polls
        await asyncio.wait_for(joined.event.wait(), 30)
        started, cpu = time.perf_counter(), time.process_time()
        futures = [await producer.send(topic, json.dumps(message(n)).encode()) for n in range(count)]
        await done.wait()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await asyncio.gather(*futures)
        await reader
        return count / elapsed, cpu / count * 1e6
    finally:
        await consumer.stop()
        await producer.stop()


async def run_tamarco(servers: str, count: int) -> float:
    from tamarco.core.microservice import MicroserviceContext
    from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

    topic = await new_topic(servers)
    handled = 0
    done = asyncio.Event()

    async def handle(body: Any) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    output = KafkaOutput(topic)
    resource = KafkaResource([KafkaInput(topic, group_id=f"{topic}.g", on_message=handle)], [output])
    service_class = type("BenchService", (MicroserviceContext,), {"name": "kafka_bench", "kafka": resource})
    service = service_class(environ={})
    settings = {"bootstrap_servers": servers, "consumer": GROUP, "producer": PRODUCER}
    service.settings.update_internal(
        {"system": {"logging": {"profile": "PRODUCTION"}, "resources": {"kafka": settings}}}
    )
    async with service:  # started: the input joined its group
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(count):
            await output.send(message(n))
        await done.wait()
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6


async def produce_aiokafka(servers: str, count: int) -> tuple[float, float]:
    """Acknowledged sends pipelined with the raw client: every ``send`` future, then all gathered."""
    topic = await new_topic(servers)
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}")  # metadata and connection ready
        started, cpu = time.perf_counter(), time.process_time()
        futures = [await producer.send(topic, json.dumps(message(n)).encode()) for n in range(count)]
        await asyncio.gather(*futures)
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6
    finally:
        await producer.stop()


async def produce_aiokafka_as_answered(servers: str, count: int) -> tuple[float, float]:
    """The same sends, each answer taken as it comes (a callback per future counts them) instead
    of all at the end by ``gather``: what a producer relaying each acknowledgement does."""
    topic = await new_topic(servers)
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}")
        started, cpu = time.perf_counter(), time.process_time()
        done = asyncio.get_running_loop().create_future()
        left = count

        def answered(future: asyncio.Future[Any]) -> None:
            nonlocal left
            future.result()
            left -= 1
            if not left:
                done.set_result(None)

        for n in range(count):
            (await producer.send(topic, json.dumps(message(n)).encode())).add_done_callback(answered)
        await done
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6
    finally:
        await producer.stop()


async def produce_aiokafka_send_and_wait(servers: str, count: int) -> tuple[float, float]:
    """The same with one ``send_and_wait`` call per message, gathered (what ``push`` does inside)."""
    topic = await new_topic(servers)
    producer = AIOKafkaProducer(bootstrap_servers=servers, **PRODUCER)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}")
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(producer.send_and_wait(topic, json.dumps(message(n)).encode()) for n in range(count)))
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6
    finally:
        await producer.stop()


async def produce_tamarco(servers: str, count: int) -> tuple[float, float]:
    """``KafkaOutput.push`` (acknowledged), ``count`` calls gathered at once."""
    from tamarco.core.microservice import MicroserviceContext
    from tamarco.resources.io.kafka import KafkaOutput, KafkaResource

    topic = await new_topic(servers)
    output = KafkaOutput(topic)
    resource = KafkaResource([], [output])
    service_class = type("BenchProducer", (MicroserviceContext,), {"name": "kafka_bench", "kafka": resource})
    service = service_class(environ={})
    settings = {"bootstrap_servers": servers, "producer": PRODUCER}
    service.settings.update_internal(
        {"system": {"logging": {"profile": "PRODUCTION"}, "resources": {"kafka": settings}}}
    )
    async with service:
        await output.push({})
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(output.push(message(n)) for n in range(count)))
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6


async def run_faststream(servers: str, count: int, *, ack_after_handling: bool = False) -> tuple[float, float]:
    from faststream.kafka import KafkaBroker
    from faststream.middlewares import AckPolicy

    topic = await new_topic(servers)
    handled = 0
    done = asyncio.Event()
    broker = KafkaBroker(servers, **PRODUCER, logger=None)
    options: dict[str, Any] = {"ack_policy": AckPolicy.ACK} if ack_after_handling else {}
    joined = Joined()
    subscriber = broker.subscriber(
        topic, group_id=f"{topic}.g", auto_offset_reset="earliest", listener=joined, **GROUP, **options
    )

    @subscriber
    async def handle(body: dict[str, Any]) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    await broker.start()
    try:
        await asyncio.wait_for(joined.event.wait(), 30)
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(count):
            await broker.publish(message(n), topic, no_confirm=True)
        await done.wait()
        return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6
    finally:
        await broker.stop()


async def run_faststream_ack(servers: str, count: int) -> tuple[float, float]:
    # A commit per message is slow: a fifth of the messages give a stable rate in less time.
    return await run_faststream(servers, max(1000, count // 5), ack_after_handling=True)


def faststream_available() -> bool:
    try:
        import faststream.kafka  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.asynccontextmanager
async def broker_address() -> AsyncIterator[str]:
    servers = os.environ.get("TAMARCO_KAFKA_BOOTSTRAP_SERVERS")
    if servers:
        yield servers
        return
    from tamarco.harness import KafkaService

    service = KafkaService(backend=os.environ.get("TAMARCO_HARNESS_BACKEND", "local"))
    await asyncio.to_thread(service.start)
    try:
        yield service.bootstrap_servers
    finally:
        await asyncio.to_thread(service.close)


Variant = Callable[[str, int], Awaitable[tuple[float, float]]]


async def compare(servers: str, title: str, variants: dict[str, Variant], count: int, rounds: int) -> None:
    """Run ``variants`` in turns, ``rounds`` times, and print their rates and ratios to the first."""
    print(f"\n{title}: {count} messages per run, {rounds} round(s)")
    results: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(rounds):
        # The order rotates from round to round: no variant always runs after another.
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            gc.collect()
            rate, cpu_us = await variants[name](servers, count)
            results[name].append(rate)
            cpu[name].append(cpu_us)
            print(f"  round {round_ + 1} {name:<24} {rate:>10,.0f} msg/s {cpu_us:>7.1f} us CPU/msg")
    baseline = names[0]
    base = statistics.median(results[baseline])
    base_cpu = statistics.median(cpu[baseline])
    # Ratios per round (variants run back to back, so a round shares the machine's state),
    # then their median: steadier than a ratio of medians taken from different rounds.
    print(
        f"{'variant':<26}{'median msg/s':>13}{'ratio':>8}{'paired ratio':>14}{'range':>13}"
        f"{'CPU us/msg':>12}{'CPU ratio':>11}"
    )
    for name, rates in results.items():
        median, median_cpu = statistics.median(rates), statistics.median(cpu[name])
        paired = [rate / raw for rate, raw in zip(rates, results[baseline], strict=True)]
        print(
            f"{name:<26}{median:>13,.0f}{median / base:>7.2f}x{statistics.median(paired):>13.2f}x"
            f"{min(paired):>7.2f}-{max(paired):.2f}{median_cpu:>12.1f}{base_cpu / median_cpu:>10.2f}x"
        )


async def main(count: int, produce_count: int, rounds: int, only: str | None, lingers: list[int]) -> None:
    consume: dict[str, Variant] = {"aiokafka": run_aiokafka, "tamarco": run_tamarco}
    if faststream_available():
        consume["faststream"] = run_faststream
        consume["faststream-ack"] = run_faststream_ack
    else:
        print("faststream is not installed (pip install 'faststream[kafka]'): skipped")
    produce: dict[str, Variant] = {
        "aiokafka send+gather": produce_aiokafka,
        "tamarco push gathered": produce_tamarco,
        "aiokafka send, as answered": produce_aiokafka_as_answered,
        "aiokafka send_and_wait gathered": produce_aiokafka_send_and_wait,
    }
    async with broker_address() as servers:
        print(f"broker {servers}; aiokafka {version('aiokafka')}")
        if only in (None, "produce"):
            for linger in lingers:
                PRODUCER["linger_ms"] = linger
                title = f"acknowledged producing, calls gathered, linger_ms={linger}"
                await compare(servers, title, produce, produce_count, rounds)
            PRODUCER["linger_ms"] = 5
        if only in (None, "consume"):
            await compare(servers, "produce -> consume", consume, count, rounds)


#: The variants ``--instructions`` counts: (comparison, name, function), the raw baseline first.
COUNTED: tuple[tuple[str, str, Variant], ...] = (
    ("produce", "aiokafka send+gather", produce_aiokafka),
    ("produce", "tamarco push gathered", produce_tamarco),
    ("consume", "aiokafka", run_aiokafka),
    ("consume", "tamarco", run_tamarco),
)


def run_child(name: str, count: int) -> None:
    """One run of one variant (the process valgrind counts)."""
    # valgrind slows the client some fifty times: a group member must not time out meanwhile.
    GROUP.update(session_timeout_ms=30000, heartbeat_interval_ms=1000, rebalance_timeout_ms=30000)
    function = next(function for _, variant, function in COUNTED if variant == name.removesuffix(" (before)"))
    servers = os.environ["TAMARCO_KAFKA_BOOTSTRAP_SERVERS"]
    asyncio.run(function(servers, count))


def count_instructions(name: str, count: int, env: dict[str, str], out_dir: str) -> int:
    if name.endswith(" (before)"):
        env = {**env, "PYTHONPATH": env["TAMARCO_BENCH_BEFORE_PATH"]}
    child = [sys.executable, __file__, "--child", name, "--messages", str(count)]
    # Once without valgrind first: the bytecode cache is written then, not counted in one run only.
    subprocess.run([*child[:-1], "10"], env=env, capture_output=True, timeout=600, check=True)
    out = os.path.join(out_dir, "cachegrind.out")
    return cachegrind.count(name, child, env, out, timeout=3600)


def sources_path(checkout: str) -> str:
    """``PYTHONPATH`` with every package's sources of ``checkout``."""
    root = os.path.abspath(checkout)
    sources = [os.path.join(root, "packages", package, "src") for package in sorted(os.listdir(f"{root}/packages"))]
    return os.pathsep.join(path for path in sources if os.path.isdir(path))


async def instructions(arguments: argparse.Namespace, before_path: str | None) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = [(kind, name) for kind, name, _ in COUNTED if arguments.only in (None, kind)]
    if before_path is not None:
        env["TAMARCO_BENCH_BEFORE_PATH"] = before_path
        names += [(kind, f"{name} (before)") for kind, name in names if name.startswith("tamarco")]
    async with broker_address() as servers:
        env["TAMARCO_KAFKA_BOOTSTRAP_SERVERS"] = servers
        print(f"broker {servers}; aiokafka {version('aiokafka')}; instructions per message (cachegrind)")
        per_message: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix="tamarco-bench-") as out_dir:
            env["PYTHONPYCACHEPREFIX"] = os.path.join(out_dir, "pycache")
            for kind, name in names:
                base = arguments.produce if kind == "produce" else arguments.messages
                counts = [
                    await asyncio.to_thread(count_instructions, name, size, env, out_dir)
                    for size in (base, base + arguments.extra)
                ]
                per_message[name] = (counts[1] - counts[0]) / arguments.extra
                raw = next(per_message[variant] for k, variant, _ in COUNTED if k == kind)
                print(
                    f"  {kind:<8} {name:<32} {per_message[name]:>10,.0f} instructions/msg"
                    f"  raw/this {raw / per_message[name]:.2f}x",
                    flush=True,
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20000, help="messages per produce->consume run")
    parser.add_argument("--produce", type=int, default=3000, help="messages per acknowledged-producing run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--linger",
        default="0,5",
        help="acknowledged producing: the producer's linger_ms, one comparison per value (default 0,5)",
    )
    parser.add_argument("--only", choices=("produce", "consume"), help="run one of the two comparisons")
    parser.add_argument("--instructions", action="store_true", help="count instructions per message (valgrind)")
    parser.add_argument("--extra", type=int, default=5000, help="--instructions: messages added in the second run")
    parser.add_argument("--before-src", help="--instructions: also count Tamarco from this checkout's sources")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        run_child(arguments.child, arguments.messages)
    elif arguments.instructions:
        asyncio.run(instructions(arguments, sources_path(arguments.before_src) if arguments.before_src else None))
    else:
        lingers = [int(value) for value in arguments.linger.split(",")]
        asyncio.run(main(arguments.messages, arguments.produce, arguments.rounds, arguments.only, lingers))

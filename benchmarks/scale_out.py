"""Scale-out: 1, 2 and 4 service processes consuming one RabbitMQ queue (competing consumers)
and one Kafka topic (a consumer group over 4 partitions), on this machine.

Each instance is ``benchmarks/scale_out_worker.py`` (a ``Microservice`` run as its own process,
``max_concurrency`` 1) with an I/O-bound handler (``await asyncio.sleep(0.005)``) or a CPU-bound
one (``--cpu-ms`` of computation). For every broker, handler and N: the workers are started
and ready (every Kafka partition assigned), ``--messages`` JSON messages are published
(pipelined, acknowledged by the broker), and the clock runs until every one was handled.
Printed: msgs/s, the speed-up over N = 1, each instance's share, the workers' CPU time per
message (user + system from ``/proc``), and messages lost (must be 0) and duplicated.

Then, per broker (I/O-bound): a steady stream (``--rate`` msgs/s) into 2 instances; a third
joins, later one of the first two is SIGKILLed. Printed: join → first message handled by the
new instance, the longest pause of the whole group's handling after the join and after the
kill, the time until every message published before the kill was handled, lost and
duplicated. Kafka members use a 3 s session timeout (heartbeat 0.3 s): a killed member's
partitions wait for it to expire (with aiokafka's default 10 s session, ~10 s).

The brokers are the harness's (local backend: RabbitMQ and tansu, on loopback); every loop is
bounded. Run: ``.venv/bin/python benchmarks/scale_out.py [--messages 1200] [--rounds 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tamarco.harness import KafkaService, RabbitMQService, ServiceProcess

WORKER = Path(__file__).with_name("scale_out_worker.py")
HANDLED = re.compile(r"^H (\d+) (\S+) ([\d.]+)$")
ASSIGNED = re.compile(r"assigned (.+)$")
PARTITIONS = 4
GROUP = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 300, "rebalance_timeout_ms": 3000}
DEADLINE = 120.0  # seconds any wait of this script may take


class Brokers:
    """The harness's RabbitMQ and Kafka, and a producer for each."""

    def __init__(self, amqp: RabbitMQService, kafka: KafkaService) -> None:
        self.amqp = amqp
        self.kafka = kafka

    def settings(self, broker: str) -> dict[str, Any]:
        resource: dict[str, Any]
        if broker == "kafka":
            resource = {"bootstrap_servers": self.kafka.bootstrap_servers, "consumer": GROUP}
        else:
            resource = {"url": self.amqp.url}
        return {
            "system": {
                "logging": {"profile": "PRODUCTION"},
                "resources": {broker: resource, "tamarco_http_report_server": {"port": 0}},
            }
        }

    async def prepare(self, broker: str, name: str) -> None:
        if broker == "kafka":
            from aiokafka.admin import AIOKafkaAdminClient, NewTopic

            admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka.bootstrap_servers)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(name, PARTITIONS, replication_factor=1)])
            finally:
                await admin.close()

    async def publish(self, broker: str, name: str, numbers: Iterable[int], rate: float | None = None) -> None:
        """Publish ``{"n": n}`` for each number, acknowledged by the broker; at ``rate`` msgs/s
        (in slices of 10 ms) or as fast as the broker takes them."""
        numbers = list(numbers)
        if broker == "kafka":
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap_servers, linger_ms=2)
            await producer.start()

            async def send(n: int) -> Any:
                return await producer.send(name, json.dumps({"n": n}).encode(), partition=n % PARTITIONS)

            try:
                await _paced(numbers, send, rate)
            finally:
                await producer.stop()
            return
        import aio_pika

        connection = await aio_pika.connect(self.amqp.url)
        try:
            channel = await connection.channel(publisher_confirms=True)

            async def publish(n: int) -> Any:
                body = aio_pika.Message(json.dumps({"n": n}).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
                return asyncio.ensure_future(channel.default_exchange.publish(body, routing_key=name))

            await _paced(numbers, publish, rate)
        finally:
            await connection.close()


async def _paced(numbers: list[int], send: Any, rate: float | None) -> None:
    pending: list[Any] = []
    started = time.monotonic()
    for index, n in enumerate(numbers):
        if rate is not None:
            due = started + index / rate
            if due - time.monotonic() > 0.01:
                await asyncio.sleep(due - time.monotonic())
        pending.append(await send(n))
        if len(pending) >= 500:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


class Worker:
    """One instance: its process, what it handled (``(n, partition, time)``) and its CPU time."""

    def __init__(self, brokers: Brokers, broker: str, name: str, handler: str, cpu_ms: float) -> None:
        env = {"SCALE_BROKER": broker, "SCALE_NAME": name, "SCALE_HANDLER": handler, "SCALE_CPU_MS": str(cpu_ms)}
        self.started = time.time()
        self.process = ServiceProcess(WORKER, settings=brokers.settings(broker), env=env).start()

    def handled(self) -> list[tuple[int, str, float]]:
        found = []
        for line in list(self.process.lines):
            match = HANDLED.match(line.strip())
            if match:
                found.append((int(match[1]), match[2], float(match[3])))
        return found

    def partitions(self) -> set[str] | None:
        """The partitions of its last assignment (None before the first)."""
        last = None
        for line in list(self.process.lines):
            match = ASSIGNED.search(line)
            if match:
                last = match[1]
        if last is None:
            return None
        return set() if last == "no partitions" else {part.strip() for part in last.split(",")}

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        if self.process.running:
            self.process.terminate(timeout=20)


async def wait_for(condition: Any, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"scale_out: {what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.01)


async def ready(broker: str, workers: list[Worker]) -> None:
    """Every instance started; on Kafka, the group's assignment covers every partition once."""
    if broker == "kafka":

        def assigned() -> bool:
            parts = [worker.partitions() for worker in workers]
            if any(part is None for part in parts):
                return False
            held = [p for part in parts if part is not None for p in part]
            return len(held) == PARTITIONS and len(set(held)) == PARTITIONS

        await wait_for(assigned, "the group's assignment")
    else:
        for worker in workers:
            await asyncio.to_thread(worker.process.wait_for, r"lifecycle: running", DEADLINE)


def tally(workers: list[Worker], sent: int) -> tuple[int, int, int]:
    """Distinct messages handled, lost (never handled) and duplicated (handled more than once)."""
    counts = collections.Counter(n for worker in workers for n, _, _ in worker.handled())
    return len(counts), sent - len(counts), sum(count - 1 for count in counts.values())


async def throughput(
    brokers: Brokers, broker: str, handler: str, instances: int, count: int, cpu_ms: float
) -> dict[str, Any]:
    name = f"scale-{broker}-{handler}-{instances}-{uuid.uuid4().hex[:6]}"
    await brokers.prepare(broker, name)
    workers = [Worker(brokers, broker, name, handler, cpu_ms) for _ in range(instances)]
    try:
        await ready(broker, workers)
        cpu = sum(worker.cpu_seconds() for worker in workers)
        started = time.monotonic()
        await brokers.publish(broker, name, range(count))
        await wait_for(lambda: tally(workers, count)[0] >= count, f"{count} messages handled")
        elapsed = time.monotonic() - started
        cpu = sum(worker.cpu_seconds() for worker in workers) - cpu
        await asyncio.sleep(0.3)  # a window for late duplicates
        _, lost, duplicated = tally(workers, count)
        shares = [len(worker.handled()) / count for worker in workers]
        return {
            "rate": count / elapsed,
            "shares": shares,
            "cpu_us": cpu / count * 1e6,
            "lost": lost,
            "duplicated": duplicated,
        }
    finally:
        await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in workers))


def longest_pause(times: list[float], since: float, window: float = 10.0) -> float:
    """The longest gap between handled messages in ``[since, since + window]``."""
    moments = sorted(t for t in times if since <= t <= since + window)
    if not moments:
        return window
    gaps = [moments[0] - since] + [b - a for a, b in itertools.pairwise(moments)]
    return max(gaps)


async def rebalance(brokers: Brokers, broker: str, rate: float, seconds: float) -> dict[str, Any]:
    """Two instances under a steady stream; a third joins at 1/3, one of the first two is
    SIGKILLed at 2/3 of the run."""
    name = f"scale-{broker}-rebalance-{uuid.uuid4().hex[:6]}"
    await brokers.prepare(broker, name)
    workers = [Worker(brokers, broker, name, "io", 0) for _ in range(2)]
    count = int(rate * seconds)
    try:
        await ready(broker, workers)
        publishing = asyncio.ensure_future(brokers.publish(broker, name, range(count), rate))
        await asyncio.sleep(seconds / 3)
        joined = Worker(brokers, broker, name, "io", 0)
        workers.append(joined)
        await wait_for(lambda: bool(joined.handled()), "the new instance's first message")
        first = min(t for _, _, t in joined.handled())
        await asyncio.sleep(max(0.0, joined.started + seconds / 3 - time.time()))
        victim = workers[0]
        before = {n for n, _, _ in victim.handled()}
        killed_at = time.time()
        victim.kill()
        published_before_kill = int((killed_at - joined.started) * rate + count / 3)  # about
        await publishing
        await wait_for(lambda: tally(workers, count)[0] >= count, f"{count} messages handled")
        await asyncio.sleep(0.3)
        survivors = [worker for worker in workers if worker is not victim]
        times = [t for worker in survivors for _, _, t in worker.handled()]
        caught_up = max(
            (
                t
                for worker in survivors
                for n, _, t in worker.handled()
                if n < published_before_kill and n not in before
            ),
            default=killed_at,
        )
        _, lost, duplicated = tally(workers, count)
        return {
            "join_to_first": first - joined.started,
            "pause_after_join": longest_pause([t for w in workers for _, _, t in w.handled()], joined.started),
            "pause_after_kill": longest_pause(times, killed_at),
            "kill_to_caught_up": max(0.0, caught_up - killed_at),
            "lost": lost,
            "duplicated": duplicated,
            "sent": count,
        }
    finally:
        await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in workers if worker.process.running))


async def main(arguments: argparse.Namespace) -> None:
    backend = os.environ.get("TAMARCO_HARNESS_BACKEND", "local")
    amqp, kafka = RabbitMQService(backend=backend), KafkaService(backend=backend)
    await asyncio.gather(asyncio.to_thread(amqp.start), asyncio.to_thread(kafka.start))
    try:
        brokers = Brokers(amqp, kafka)
        print(
            f"RabbitMQ {amqp.url.rsplit('@', 1)[-1]}, Kafka {kafka.bootstrap_servers}; load average {os.getloadavg()}"
        )
        counts = {"io": arguments.messages, "cpu": arguments.messages}
        results: dict[tuple[str, str, int], list[dict[str, Any]]] = collections.defaultdict(list)
        for round_ in range(arguments.rounds):
            # Interleaved: every configuration once per round, the order of N rotating.
            order = [1, 2, 4][round_ % 3 :] + [1, 2, 4][: round_ % 3]
            for broker in arguments.brokers:
                for handler in ("io", "cpu"):
                    for instances in order:
                        result = await throughput(
                            brokers, broker, handler, instances, counts[handler], arguments.cpu_ms
                        )
                        results[broker, handler, instances].append(result)
                        shares = " ".join(f"{share:.0%}" for share in result["shares"])
                        print(
                            f"  round {round_ + 1} {broker:<5} {handler:<3} N={instances}: "
                            f"{result['rate']:>7,.0f} msg/s "
                            f"shares {shares:<16} {result['cpu_us']:>6.0f} us CPU/msg "
                            f"lost {result['lost']} duplicated {result['duplicated']}",
                            flush=True,
                        )
        header = f"{'broker':<7}{'handler':<8}{'N':>2}{'msg/s':>9}{'speed-up':>10}  {'shares':<20}"
        print(f"\n{header}{'CPU us/msg':>11}{'lost':>6}{'dup':>5}")
        for broker in arguments.brokers:
            for handler in ("io", "cpu"):
                single = statistics.median(r["rate"] for r in results[broker, handler, 1])
                for instances in (1, 2, 4):
                    runs = results[broker, handler, instances]
                    rate = statistics.median(r["rate"] for r in runs)
                    shares = " ".join(
                        f"{statistics.median(r['shares'][i] for r in runs):.0%}" for i in range(instances)
                    )
                    print(
                        f"{broker:<7}{handler:<8}{instances:>2}{rate:>9,.0f}{rate / single:>9.2f}x  {shares:<20}"
                        f"{statistics.median(r['cpu_us'] for r in runs):>11.0f}"
                        f"{sum(r['lost'] for r in runs):>6}{sum(r['duplicated'] for r in runs):>5}"
                    )
        print(f"\nrebalance: 2 instances at {arguments.rate:g} msg/s, a third joins, then one is SIGKILLed")
        for broker in arguments.brokers:
            result = await rebalance(brokers, broker, arguments.rate, arguments.seconds)
            print(
                f"{broker:<6} join -> first message {result['join_to_first']:.2f} s (process start included); "
                f"longest pause after the join {result['pause_after_join']:.2f} s, after the kill "
                f"{result['pause_after_kill']:.2f} s; kill -> backlog handled {result['kill_to_caught_up']:.2f} s; "
                f"sent {result['sent']}, lost {result['lost']}, duplicated {result['duplicated']}",
                flush=True,
            )
    finally:
        await asyncio.gather(asyncio.to_thread(amqp.close), asyncio.to_thread(kafka.close))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1200, help="messages per throughput run")
    parser.add_argument(
        "--cpu-ms", type=float, default=2.0, help="CPU milliseconds per message of the CPU-bound handler"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rate", type=float, default=250.0, help="msgs/s of the rebalance runs")
    parser.add_argument("--seconds", type=float, default=9.0, help="length of the rebalance runs")
    parser.add_argument("--brokers", nargs="+", default=["amqp", "kafka"], choices=("amqp", "kafka"))
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)

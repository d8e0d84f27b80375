"""Two service processes on one broker: competing consumers share a queue, subscribers each get
every message; a SIGTERM with messages in flight loses none."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
from tamarco.harness.messaging_suite import running, wait_until
from tamarco.resources.io.amqp import AMQPOutput, AMQPResource

pytestmark = pytest.mark.functional

WORKER = Path(__file__).with_name("amqp_worker.py")


class Settings:
    def __init__(self, settings):
        self._settings = settings

    def settings(self):
        return self._settings


def worker_settings(amqp):
    return {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "resources": {"amqp": amqp, "tamarco_http_report_server": {"port": 0}},
        }
    }


def ids(process, what="handled"):
    return [int(found) for line in list(process.lines) if (found := _id(what, line)) is not None]


def _id(what, line):
    match = re.search(rf"\b{what} (\d+)$", line.rstrip())
    return match.group(1) if match else None


async def start_workers(service_process, amqp, pattern, queue, delay, count=2):
    workers = [service_process(WORKER, worker_settings(amqp), pattern, queue, str(delay)) for _ in range(count)]
    for worker in workers:
        await wait_until(lambda w=worker: w.count("lifecycle: running") > 0, 40, "a worker running")
    return workers


async def test_competing_consumers_in_two_processes_handle_each_message_once(
    amqp_settings, unique_name, service_process
):
    amqp = amqp_settings(queues_prefix=f"{unique_name}.")
    workers = await start_workers(service_process, amqp, "pull", "jobs", 0.01)
    output = AMQPOutput("jobs")
    async with running(Settings(amqp), AMQPResource(outputs=[output])):
        for n in range(200):
            await output.push({"id": n})
        await wait_until(lambda: sum(len(ids(w)) for w in workers) >= 200, what="200 messages handled")
    for worker in workers:
        assert worker.terminate() == 0, worker.output
    handled = [ids(worker) for worker in workers]
    print(f"worker shares: {[len(share) for share in handled]}")
    assert sorted(handled[0] + handled[1]) == list(range(200)), "each message handled exactly once"
    assert all(handled), "both workers took part"


async def test_subscribers_in_two_processes_each_get_every_message(amqp_settings, unique_name, service_process):
    amqp = amqp_settings(queues_prefix=f"{unique_name}.")
    workers = await start_workers(service_process, amqp, "subscribe", "news", 0)
    output = AMQPOutput("news")
    async with running(Settings(amqp), AMQPResource(outputs=[output])):
        for n in range(50):
            await output.publish({"id": n})
        await wait_until(lambda: all(len(ids(w)) >= 50 for w in workers), what="50 messages in each worker")
    for worker in workers:
        assert worker.terminate() == 0, worker.output
        assert sorted(ids(worker)) == list(range(50))


async def test_sigterm_with_messages_in_flight_loses_none(amqp_settings, unique_name, service_process):
    amqp = amqp_settings(queues_prefix=f"{unique_name}.", drain_timeout_seconds=5)
    (slow,) = await start_workers(service_process, amqp, "pull", "work", 0.5, count=1)
    output = AMQPOutput("work")
    total = 60
    async with running(Settings(amqp), AMQPResource(outputs=[output])):
        for n in range(total):
            await output.push({"id": n})
        await wait_until(lambda: len(ids(slow, "started")) >= 10, what="10 handlers running")
        assert slow.terminate() == 0, slow.output
        started, finished = ids(slow, "started"), ids(slow, "handled")
        assert sorted(started) == sorted(finished), "the handlers running at SIGTERM finished (drained)"
        (fresh,) = await start_workers(service_process, amqp, "pull", "work", 0, count=1)
        await wait_until(lambda: len(set(finished) | set(ids(fresh))) >= total, what="every message handled")
        assert fresh.terminate() == 0, fresh.output
    handled = collections.Counter(finished + ids(fresh))
    lost = set(range(total)) - set(handled)
    duplicates = sum(count - 1 for count in handled.values())
    print(
        f"sent {total}, handled before SIGTERM {len(finished)}, after {len(ids(fresh))}, "
        f"duplicates {duplicates}, lost {len(lost)}"
    )
    assert not lost
    assert duplicates == 0, "drained messages were acknowledged, not delivered again"

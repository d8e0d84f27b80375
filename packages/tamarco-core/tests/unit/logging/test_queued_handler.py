"""The queued handler against in-memory transports: delivery, drops, outages, batching."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from tamarco.core.instrumentation import _provider
from tamarco.core.instrumentation._noop import NoopProvider
from tamarco.core.logging.queued import BatchingQueuedHandler, BatchRejected, QueuedHandler
from tamarco.core.logging.testing import capture_logs


class MemoryTransport:
    """Collects batches; ``fail`` makes ``send`` raise until cleared."""

    description = "memory://test"

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.fail: Exception | None = None
        self.attempts = 0
        self.closes = 0
        self.sent = asyncio.Event()

    @property
    def records(self) -> list[bytes]:
        return [record for batch in self.batches for record in batch]

    async def send(self, batch: list[bytes]) -> None:
        self.attempts += 1
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(batch))
        self.sent.set()

    async def close(self) -> None:
        self.closes += 1


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture(autouse=True)
def framework_info_level() -> Iterator[None]:
    framework = logging.getLogger("tamarco.logging")
    framework.setLevel(logging.INFO)
    yield
    framework.setLevel(logging.NOTSET)


@pytest.fixture
def source() -> Iterator[logging.Logger]:
    logger = logging.getLogger("tests.queued")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.handlers.clear()
    logger.propagate = True


def attach(logger: logging.Logger, handler: logging.Handler) -> logging.Handler:
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return handler


async def test_records_reach_the_transport_in_order(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, QueuedHandler("mem", transport))
    handler.start()
    for index in range(50):
        source.info("record %d", index)
    await until(lambda: len(transport.records) == 50)
    assert transport.records == [f"record {i}".encode() for i in range(50)]
    await handler.aclose()
    assert handler.statistics().sent == 50 and handler.statistics().dropped == 0


async def test_emit_never_waits_for_the_transport(source: logging.Logger) -> None:
    class SlowTransport(MemoryTransport):
        async def send(self, batch: list[bytes]) -> None:
            await asyncio.sleep(10)

    handler = attach(source, QueuedHandler("slow", SlowTransport()))
    handler.start()
    started = time.perf_counter()
    for index in range(1000):
        source.info("record %d", index)
    assert time.perf_counter() - started < 1.0  # would be 10 s per record if emit waited
    await handler.aclose(timeout=0.1)
    assert handler.statistics().dropped == 1000


async def test_full_queue_drops_counts_and_reports(source: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    increments: list[tuple[str, dict, int]] = []

    class FakeCounter:
        def __init__(self, name: str, labels: dict) -> None:
            self.name, self.labels = name, labels

        def inc(self, value: int = 1, /) -> None:
            increments.append((self.name, self.labels, value))

    class FakeProvider(NoopProvider):  # an instrumentation implementation, as tamarco-metrics
        def counter(self, name, unit, label_names):  # type: ignore[override]
            return lambda labels: FakeCounter(name, labels)

    monkeypatch.setattr(_provider, "_provider", FakeProvider())  # restored after the test

    transport = MemoryTransport()
    transport.fail = ConnectionError("down")
    handler = attach(source, QueuedHandler("mem", transport, queue_size=10))
    handler.retry_initial = 0.01
    with capture_logs(loggers=["tamarco.logging"]) as logs:
        handler.start()
        await until(lambda: transport.attempts >= 1 or handler.statistics().queued == 0)
        for index in range(100):
            source.info("record %d", index)
        stats = handler.statistics()
        assert stats.queued == 10 and stats.dropped >= 89
        await handler.aclose(timeout=0.05)
    dropped = handler.statistics().dropped
    assert dropped == 100
    report = logs.find(contains="dropped", logger="tamarco.logging")
    assert report.levelname == "WARNING"
    assert "queue_size 10" in report.message and report.extra["logging_handler"] == "mem"
    assert sum(value for _, _, value in increments) == dropped
    assert {name for name, _, _ in increments} == {"tamarco_logging_dropped_records"}
    assert increments[0][1] == {"handler": "mem"}


async def test_one_warning_per_outage_then_reconnect_without_losing_records(source: logging.Logger) -> None:
    transport = MemoryTransport()
    transport.fail = ConnectionError("refused")
    handler = attach(source, QueuedHandler("mem", transport))
    handler.retry_initial = handler.retry_maximum = 0.01
    with capture_logs(loggers=["tamarco.logging"]) as logs:
        handler.start()
        source.info("during outage 1")
        await until(lambda: transport.attempts >= 5)
        source.info("during outage 2")
        assert handler.statistics().in_outage
        transport.fail = None
        await until(lambda: len(transport.records) == 2)
        transport.fail = OSError("again")
        source.info("second outage")
        await until(lambda: transport.attempts >= handler.statistics().sent + 8)
        transport.fail = None
        await until(lambda: len(transport.records) == 3)
        await handler.aclose()
    warnings = logs.filter(contains="cannot send", logger="tamarco.logging")
    assert len(warnings) == 2  # one per outage, not one per attempt
    assert "refused" in warnings[0].message and "memory://test" in warnings[0].message
    assert len(logs.filter(contains="reconnected", logger="tamarco.logging")) == 2
    assert transport.records == [b"during outage 1", b"during outage 2", b"second outage"]
    assert transport.closes >= 2  # the transport was reset to reconnect


async def test_rejected_batch_is_dropped_and_reported_not_retried(source: logging.Logger) -> None:
    transport = MemoryTransport()
    transport.fail = BatchRejected("HTTP 400 Bad Request")
    handler = attach(source, QueuedHandler("mem", transport))
    with capture_logs(loggers=["tamarco.logging"]) as logs:
        handler.start()
        source.info("bad")
        await until(lambda: handler.statistics().rejected == 1)
        transport.fail = None
        source.info("good")
        await until(lambda: transport.records == [b"good"])
        await handler.aclose()
    assert transport.attempts == 2
    assert logs.find(contains="rejected 1 records").levelname == "WARNING"


async def test_records_from_other_threads_wake_the_sender(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, QueuedHandler("mem", transport))
    handler.start()
    threads = [threading.Thread(target=lambda n=n: [source.info("t%d-%d", n, i) for i in range(100)]) for n in range(4)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    await until(lambda: len(transport.records) == 400)
    await handler.aclose()


async def test_records_before_start_are_sent_after_start(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, QueuedHandler("mem", transport))
    source.info("early")
    handler.start()
    await until(lambda: transport.records == [b"early"])
    await handler.aclose()


async def test_aclose_flushes_what_is_queued(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, QueuedHandler("mem", transport))
    handler.start()
    for index in range(1200):
        source.info("r%d", index)
    await handler.aclose(timeout=5)
    assert len(transport.records) == 1200
    assert max(len(batch) for batch in transport.batches) <= handler.batch_size
    source.info("after close")
    assert handler.statistics().dropped == 1


async def test_batching_by_count(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, BatchingQueuedHandler("b", transport, max_records=5, max_time_seconds=60))
    handler.start()
    for index in range(12):
        source.info("r%d", index)
    await until(lambda: len(transport.batches) == 2)
    assert [len(batch) for batch in transport.batches] == [5, 5]
    await asyncio.sleep(0.05)
    assert len(transport.batches) == 2  # the last two wait for the count or the time
    await handler.aclose()
    assert [len(batch) for batch in transport.batches] == [5, 5, 2]


async def test_batching_by_time(source: logging.Logger) -> None:
    transport = MemoryTransport()
    handler = attach(source, BatchingQueuedHandler("b", transport, max_records=100, max_time_seconds=0.2))
    handler.start()
    started = time.monotonic()
    source.info("one")
    source.info("two")
    await asyncio.wait_for(transport.sent.wait(), 5)
    waited = time.monotonic() - started
    assert transport.batches == [[b"one", b"two"]]
    assert waited >= 0.15  # held until max_time_seconds, not sent at once
    await handler.aclose()


def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        QueuedHandler("x", MemoryTransport(), queue_size=0)


async def test_outage_warning_never_shows_the_transport_secrets(source: logging.Logger) -> None:
    transport = MemoryTransport()
    transport.secrets = ("s3cr3t-pw",)  # type: ignore[attr-defined]
    transport.fail = ConnectionError("AUTH s3cr3t-pw refused")
    handler = attach(source, QueuedHandler("mem", transport))
    with capture_logs(loggers=["tamarco.logging"]) as logs:
        handler.start()
        source.info("x")
        warning = await logs.wait_for(contains="cannot send", timeout=5)
        await handler.aclose(timeout=0.05)
    assert "s3cr3t-pw" not in warning.message and "AUTH ******** refused" in warning.message


async def test_an_unexpected_transport_error_is_retried_like_an_outage(source: logging.Logger) -> None:
    class Exploding(MemoryTransport):
        calls = 0

        async def send(self, batch: list[bytes]) -> None:
            self.calls += 1
            if self.calls == 1:
                raise SystemError("bug")  # not a network error class the handler knows
            await super().send(batch)

    transport = Exploding()
    handler = attach(source, QueuedHandler("mem", transport))
    handler.retry_initial = 0.01
    handler.start()
    source.info("first")
    await until(lambda: transport.calls >= 1)
    source.info("second")
    await until(lambda: b"second" in transport.records)
    await handler.aclose()

"""Each meter's arithmetic: counters, gauges, summaries and their sliding window."""

from __future__ import annotations

import math
import threading
import time

import pytest
from tamarco.resources.basic.metrics import DEFAULT_QUANTILES, Counter, Gauge, MeterScope, Summary


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counter_counts_up(scope: MeterScope) -> None:
    counter = Counter("cats", "animals")
    assert counter.value == 0
    counter.inc()
    counter.inc(2)
    counter.inc(0.5)
    assert counter.value == 3.5
    assert counter.current_value() == 3.5


@pytest.mark.parametrize("amount", [-1, -0.001, math.nan])
def test_counter_rejects_negative_and_nan(scope: MeterScope, amount: float) -> None:
    counter = Counter("cats", "animals")
    counter.inc(3)
    with pytest.raises(ValueError, match=r"counter 'cats'.*non-negative"):
        counter.inc(amount)
    assert counter.value == 3


def test_counter_rejects_non_numbers_and_keeps_its_value(scope: MeterScope) -> None:
    counter = Counter("cats", "animals")
    counter.inc()
    with pytest.raises(TypeError):
        counter.inc("2")  # type: ignore[arg-type]
    counter.inc()  # the lock was released despite the error
    assert counter.value == 2


def test_counter_is_exact_from_threads(scope: MeterScope) -> None:
    counter = Counter("threaded", "operations")

    def work() -> None:
        for _ in range(20_000):
            counter.inc()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.value == 80_000


def test_gauge_goes_up_down_and_is_set(scope: MeterScope) -> None:
    gauge = Gauge("websocket_connections", "connections")
    gauge.inc()
    gauge.inc(4)
    gauge.dec()
    gauge.dec(0.5)
    assert gauge.value == 3.5
    gauge.set(-7)
    assert gauge.value == -7
    assert gauge.current_value() == -7


def test_gauge_start_value(scope: MeterScope) -> None:
    gauge = Gauge("queue_size", "messages", start_value=10)
    assert gauge.value == 10
    gauge.dec(3)
    assert gauge.value == 7


def test_gauge_set_to_current_time(scope: MeterScope) -> None:
    gauge = Gauge("last_run", "timestamp")
    before = time.time()
    gauge.set_to_current_time()
    assert before <= gauge.value <= time.time()


def test_summary_over_0_to_99(scope: MeterScope) -> None:
    summary = Summary("http_response_time", "time")
    for value in range(100):
        summary.observe(value)
    count, total, quantiles = summary.snapshot()
    assert count == 100 == summary.count
    assert total == 4950 == summary.sum
    assert summary.quantiles == DEFAULT_QUANTILES == (0.5, 0.75, 0.9, 0.95, 0.99)
    # nearest rank: the smallest observed value with at least q of the observations <= it
    assert quantiles == {0.5: 49, 0.75: 74, 0.9: 89, 0.95: 94, 0.99: 98}


def test_summary_custom_quantiles_are_sorted_and_checked(scope: MeterScope) -> None:
    summary = Summary("sizes", "bytes", quantiles=[0.99, 0, 1, 0.5])
    assert summary.quantiles == (0.0, 0.5, 0.99, 1.0)
    for value in (5, 1, 3):
        summary.observe(value)
    assert summary.quantile_values() == {0.0: 1, 0.5: 3, 0.99: 5, 1.0: 5}
    with pytest.raises(ValueError, match=r"summary 'bad'.*quantile 1.5"):
        Summary("bad", "bytes", quantiles=[0.5, 1.5])


def test_summary_empty_window_gives_nan(scope: MeterScope) -> None:
    summary = Summary("idle", "seconds")
    count, total, quantiles = summary.snapshot()
    assert (count, total) == (0, 0)
    assert all(math.isnan(value) for value in quantiles.values())


def test_summary_rejects_nan(scope: MeterScope) -> None:
    summary = Summary("latency", "seconds")
    with pytest.raises(ValueError, match=r"summary 'latency'.*NaN"):
        summary.observe(math.nan)
    assert summary.count == 0


def test_summary_sliding_window_forgets_old_observations(scope: MeterScope) -> None:
    clock = FakeClock()
    summary = Summary("latency", "seconds", quantiles=[0, 0.5, 1], window_seconds=10, age_buckets=5, clock=clock)
    for value in range(100):
        summary.observe(value)
    clock.now += 5  # still inside the window
    summary.observe(1000)
    assert summary.quantile_values() == {0: 0, 0.5: 50, 1: 1000}
    clock.now += 6  # the first 100 observations are 11 s old: gone; 1000 is 6 s old: kept
    assert summary.quantile_values() == {0: 1000, 0.5: 1000, 1: 1000}
    clock.now += 10  # everything is older than the window
    assert all(math.isnan(value) for value in summary.quantile_values().values())
    # count and sum stay cumulative, as Prometheus expects
    assert summary.count == 101
    assert summary.sum == 4950 + 1000


def test_summary_window_keeps_a_bounded_uniform_sample(scope: MeterScope) -> None:
    clock = FakeClock()
    summary = Summary("busy", "seconds", window_seconds=10, age_buckets=1, max_samples=1000, clock=clock)
    for value in range(100_000):
        summary.observe(value)
    assert summary.count == 100_000
    values = summary.quantile_values()
    # a uniform sample of 1000 out of 0..99999: the median is near 50000
    assert 40_000 < values[0.5] < 60_000
    assert values[0.99] > 95_000
    assert sum(len(bucket) for bucket in summary._buckets) == 1000


def test_summary_window_settings_are_checked(scope: MeterScope) -> None:
    with pytest.raises(ValueError, match=r"window_seconds"):
        Summary("bad_window", "seconds", window_seconds=0)
    with pytest.raises(ValueError, match=r"age_buckets"):
        Summary("bad_buckets", "seconds", age_buckets=0)
    with pytest.raises(ValueError, match=r"max_samples"):
        Summary("bad_samples", "seconds", max_samples=0)

"""Batched updates: Summary.observe_many and the scopes' collect hooks."""

from __future__ import annotations

import math
import random

import pytest
from tamarco.resources.basic.metrics import Counter, MeterScope, Summary
from tamarco.resources.basic.metrics._export import exported_families


@pytest.mark.parametrize("batch", [1, 7, 333, 1000, 5000])
def test_observe_many_is_observe_on_each_value(scope: MeterScope, batch: int) -> None:
    values = [random.random() for _ in range(12_000)]

    def fill(name: str, batched: bool) -> tuple[int, float, list[float]]:
        random.seed(7)  # the reservoir draws the same numbers
        summary = Summary(name, "seconds", max_samples=1000, clock=lambda: 0.0)
        if batched:
            for start in range(0, len(values), batch):
                summary.observe_many(values[start : start + batch])
        else:
            for value in values:
                summary.observe(value)
        return summary.count, summary.sum, [v for bucket in summary._buckets for v in bucket]

    one_by_one = fill("one_by_one", batched=False)
    batched = fill("batched", batched=True)
    assert batched[0] == one_by_one[0] == 12_000
    assert math.isclose(batched[1], one_by_one[1])
    assert batched[2] == one_by_one[2]  # same window, same reservoir


def test_observe_many_rejects_nan_and_records_nothing(scope: MeterScope) -> None:
    summary = Summary("latency", "seconds")
    summary.observe_many([])
    with pytest.raises(ValueError, match="NaN"):
        summary.observe_many([0.1, math.nan])
    assert summary.count == 0 and summary.sum == 0


def test_collect_hooks_run_before_every_export(scope: MeterScope) -> None:
    counter = Counter("requests", "requests")
    pending = [3]

    def apply_pending() -> None:
        while pending:
            counter.inc(pending.pop())

    def broken() -> None:
        raise RuntimeError("boom")

    scope.add_collect_hook(broken)  # logged, does not stop the export nor the other hooks
    scope.add_collect_hook(apply_pending)
    [family] = exported_families([scope])
    assert family.meters[0].value == 3  # type: ignore[attr-defined]
    scope.remove_collect_hook(apply_pending)
    scope.remove_collect_hook(apply_pending)  # twice: no error
    pending.append(4)
    exported_families([scope])
    assert counter.value == 3

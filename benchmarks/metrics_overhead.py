"""Cost of Tamarco's meters against prometheus-client, measured in the same run.

Prints, for each workload, the best-of-N time per operation of prometheus-client and of
Tamarco, and the ratio tamarco / prometheus-client (below 1.0: Tamarco is cheaper). Targets
(PERFORMANCE.md): every ratio <= 1.0.

Workloads:

- ``Counter.inc()`` on an unlabelled counter;
- a labelled increment done per call: ``counter.labels("200").inc()`` against
  ``counter.new_labels({"status_code": "200"}).inc()``;
- a labelled increment on a child kept aside (``child.inc()``), the way hot code holds it;
- ``Summary.observe()`` (Tamarco also keeps the sliding-window samples for the quantiles,
  prometheus-client's Summary only count and sum);
- rendering 10k labelled counter series to the Prometheus text format with
  ``generate_latest`` (prometheus-client's ``_created`` series disabled so both bodies hold
  the same 10k samples).

Run: ``.venv/bin/python benchmarks/metrics_overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import timeit
from collections.abc import Callable
from importlib.metadata import version

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from tamarco.resources.basic.metrics import Counter, MeterScope, Summary, TamarcoCollector, meter_scope
from tamarco.resources.basic.metrics._prometheus import new_registry


def pair_ns(raw: Callable[[], object], ours: Callable[[], object], number: int, repeat: int) -> tuple[float, float]:
    """Best time per call in nanoseconds of each, measured alternately so that the machine's
    drift hits both alike (the minimum is the least noisy estimate)."""
    gc.collect()
    raw_times, ours_times = [], []
    for _ in range(repeat):
        raw_times.append(timeit.timeit(raw, number=number))
        ours_times.append(timeit.timeit(ours, number=number))
    return min(raw_times) / number * 1e9, min(ours_times) / number * 1e9


def row(name: str, times: tuple[float, float], unit: str = "ns", scale: float = 1.0) -> float:
    raw, ours = times[0] * scale, times[1] * scale
    ratio = ours / raw
    print(f"{name:<44} {raw:>12,.0f} {ours:>12,.0f} {unit:<3} {ratio:>7.2f}x")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args()
    number, repeat, series = (20_000, 3, 1_000) if args.quick else (500_000, 5, 10_000)

    registry = CollectorRegistry()
    raw_counter = prometheus_client.Counter("bench_inc", "inc", registry=registry)
    raw_labelled = prometheus_client.Counter("bench_labelled", "labelled", ["status_code"], registry=registry)
    raw_child = raw_labelled.labels("200")
    raw_summary = prometheus_client.Summary("bench_observe", "observe", registry=registry)

    with meter_scope(MeterScope("benchmark")):
        counter = Counter("bench_inc", "operations")
        labelled = Counter("bench_labelled", "operations")
        child = labelled.new_labels({"status_code": "200"})
        summary = Summary("bench_observe", "seconds")

    labels = {"status_code": "200"}
    print(f"python {sys.version.split()[0]}, prometheus-client {version('prometheus-client')}")
    print(f"{'workload':<44} {'prom-client':>12} {'tamarco':>12} {'':<3} {'ratio':>8}")
    ratios = [
        row("Counter.inc()", pair_ns(raw_counter.inc, counter.inc, number, repeat)),
        row(
            "labelled inc, labels looked up per call",
            pair_ns(
                lambda: raw_labelled.labels("200").inc(), lambda: labelled.new_labels(labels).inc(), number, repeat
            ),
        ),
        row("labelled inc, child kept", pair_ns(raw_child.inc, child.inc, number, repeat)),
        row(
            "Summary.observe(0.25)",
            pair_ns(lambda: raw_summary.observe(0.25), lambda: summary.observe(0.25), number, repeat),
        ),
    ]

    # Render: the same number of counter series, each with one label, on both sides.
    prometheus_client.disable_created_metrics()
    raw_registry = CollectorRegistry()
    raw_family = prometheus_client.Counter("bench_render", "render", ["series"], registry=raw_registry)
    with meter_scope(MeterScope("render")) as render_scope:
        family = Counter("bench_render", "operations")
        for index in range(series):
            raw_family.labels(str(index)).inc(index)
            family.new_labels({"series": index}).inc(index)
    ours_registry = new_registry(TamarcoCollector(lambda: [render_scope], "", None))
    raw_body, ours_body = generate_latest(raw_registry), generate_latest(ours_registry)
    raw_lines = [line for line in raw_body.splitlines() if not line.startswith(b"#")]
    ours_lines = [line for line in ours_body.splitlines() if not line.startswith(b"#")]
    if len(raw_lines) != series or len(ours_lines) != series:
        print(f"render bodies differ in size: {len(raw_lines)} vs {len(ours_lines)} samples", file=sys.stderr)
        return 1
    render_repeat = 3 if args.quick else 5
    ratios.append(
        row(
            f"render {series:,} series (generate_latest)",
            pair_ns(lambda: generate_latest(raw_registry), lambda: generate_latest(ours_registry), 1, render_repeat),
            "ms",
            1e-6,
        )
    )
    worst = max(ratios)
    print(f"worst ratio {worst:.2f}x (target <= 1.00x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What recording through ``tamarco.core.instrumentation`` costs with no implementation installed.

Without tamarco-metrics, every instrument records into one shared do-nothing object: the cost
of a call is the Python call itself. Compared in the same run with a call of an empty function
(the floor), and, when tamarco-metrics is installed, with its meters through the API (which are
its own ``Counter``/``Summary``: the same cost as using them directly).

Usage::

    .venv/bin/python benchmarks/instrumentation_noop.py
"""

from __future__ import annotations

import timeit

from tamarco.core import instrumentation

NUMBER = 1_000_000


def nothing(n: float = 1, /) -> None:
    pass


def per_call_ns(statement: str, namespace: dict[str, object]) -> float:
    best = min(timeit.repeat(statement, globals=namespace, number=NUMBER, repeat=5))
    return best / NUMBER * 1e9


def measure(label: str) -> dict[str, float]:
    counter = instrumentation.counter("bench_things", "things")
    labelled = instrumentation.counter("bench_consumed", "messages", labels=("queue",)).labels(queue="cows")
    summary = instrumentation.summary("bench_took", "seconds", labels=("queue",)).labels(queue="cows")
    namespace = {"counter": counter, "labelled": labelled, "summary": summary, "nothing": nothing}
    results = {
        "empty function call": per_call_ns("nothing()", namespace),
        "counter.inc() (no labels)": per_call_ns("counter.inc()", namespace),
        "bound labelled counter .inc()": per_call_ns("labelled.inc()", namespace),
        "bound summary .observe(0.1)": per_call_ns("summary.observe(0.1)", namespace),
        "instrumentation.enabled()": per_call_ns("enabled()", {"enabled": instrumentation.enabled}),
    }
    print(f"\n{label}")
    for name, ns in results.items():
        print(f"  {name:<32}{ns:>8.1f} ns/call")
    return results


def main() -> None:
    instrumentation.set_provider(None)  # as without tamarco-metrics installed
    noop = measure("no implementation (no-op)")
    instrumentation.reset_provider()
    provider = instrumentation.get_provider()
    if type(provider).__name__ != "NoopProvider":
        measure(f"with {type(provider).__module__}.{type(provider).__name__}")
    floor = noop["empty function call"]
    print(f"\nno-op bound .inc() / empty function call = {noop['bound labelled counter .inc()'] / floor:.2f}")


if __name__ == "__main__":
    main()

"""Instrumentation API: any package records meters; tamarco-metrics exports them.

The OpenTelemetry API/SDK split: this module is always there and cheap; an implementation
registers itself through the ``tamarco.instrumentation`` entry-point group (tamarco-metrics
does), looked up once, at the first instrument created. Without one, every instrument records
into a shared do-nothing object: a call costs a Python call and nothing else
(``benchmarks/instrumentation_noop.py``). With tamarco-metrics, the meters are its own
``Counter``, ``Gauge`` and ``Summary`` (same name: same family), created in the scope of the
service running in the current context, exactly as if made with those classes::

    from tamarco.core import instrumentation

    consumed = instrumentation.counter("amqp_messages_consumed", "messages", labels=("resource", "queue"))
    cows = consumed.labels(resource="amqp", queue="cows")  # bound: keep it, then on each message
    cows.inc()

    things = instrumentation.counter("things", "things")  # no labels: record on the instrument
    things.inc(3)

    duration = instrumentation.summary("handler_duration", "seconds", labels=("resource", "queue"))
    duration.labels(resource="amqp", queue="cows").observe(0.01)  # also .observe_many([...])

    lag = instrumentation.gauge("consumer_lag", "messages", labels=("partition",))
    lag.labels(partition="0").set(5)  # also .inc() and .dec()

Labels are declared up front and bounded: ``labels()`` takes every declared label and no
other (a ValueError names the meter and the label); values are turned into strings. An
instrument that declares labels records only through ``labels(...)``.

:func:`enabled` tells whether anything would export what is recorded (an implementation is
installed and the current service exports meters): code whose measuring costs something of its
own (tamarco-http's request meters) skips it when it is False. :func:`add_collect_hook`
registers ``fn()`` to run before each export of the current scope, for code that batches its
updates. Create instruments inside the service (its start, hooks, tasks) to record in its
scope; at import time they are process-wide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tamarco.core.instrumentation._api import (
    BoundCounter,
    BoundGauge,
    BoundSummary,
    Counter,
    Gauge,
    MeterProvider,
    Summary,
    check_name,
)
from tamarco.core.instrumentation._provider import ENTRY_POINT_GROUP, get_provider, reset_provider, set_provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "BoundCounter",
    "BoundGauge",
    "BoundSummary",
    "Counter",
    "Gauge",
    "MeterProvider",
    "Summary",
    "add_collect_hook",
    "counter",
    "enabled",
    "gauge",
    "get_provider",
    "remove_collect_hook",
    "reset_provider",
    "set_provider",
    "summary",
]


def counter(name: str, unit: str, labels: Sequence[str] = ()) -> Counter:
    """A cumulative count (requests, messages, errors) named ``name``, in ``unit``."""
    name, label_names = check_name(name, unit, labels)
    return Counter(name, unit, label_names, get_provider().counter(name, unit, label_names))


def gauge(name: str, unit: str, labels: Sequence[str] = ()) -> Gauge:
    """A value that goes up and down (connections, lag, queue size)."""
    name, label_names = check_name(name, unit, labels)
    return Gauge(name, unit, label_names, get_provider().gauge(name, unit, label_names))


def summary(name: str, unit: str, labels: Sequence[str] = ()) -> Summary:
    """Observations (durations in seconds, sizes): count, sum and quantiles."""
    name, label_names = check_name(name, unit, labels)
    return Summary(name, unit, label_names, get_provider().summary(name, unit, label_names))


def enabled() -> bool:
    """True when an implementation is installed and the current service exports meters."""
    return get_provider().enabled()


def add_collect_hook(hook: Callable[[], None]) -> None:
    """Run ``hook()`` before each export of the current scope (maybe from another thread)."""
    get_provider().add_collect_hook(hook)


def remove_collect_hook(hook: Callable[[], None]) -> None:
    """Undo :func:`add_collect_hook` (no error if it is not there)."""
    get_provider().remove_collect_hook(hook)

"""tamarco-metrics implements tamarco.core.instrumentation: the API's meters are its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tamarco.core import instrumentation
from tamarco.resources.basic.metrics import (
    GLOBAL_SCOPE,
    Counter,
    Gauge,
    MeterConflictError,
    MeterScope,
    Summary,
    meter_scope,
)
from tamarco.resources.basic.metrics._export import exported_families
from tamarco.resources.basic.metrics._instrumentation import MetricsMeterProvider


@pytest.fixture(autouse=True)
def looked_up_again() -> Iterator[None]:
    instrumentation.reset_provider()  # the entry point is looked up by the test itself
    yield
    instrumentation.reset_provider()


def test_the_entry_point_installs_the_metrics_provider() -> None:
    assert isinstance(instrumentation.get_provider(), MetricsMeterProvider)
    assert isinstance(instrumentation.get_provider(), instrumentation.MeterProvider)


def test_api_meters_are_the_metrics_meters_of_the_same_name(scope: MeterScope) -> None:
    consumed = instrumentation.counter("consumed", "messages", labels=("resource", "queue"))
    cows = consumed.labels(resource="amqp", queue="cows")
    cows.inc()
    cows.inc(2)
    same = Counter("consumed", "messages", labels={"resource": "amqp", "queue": "cows"})
    assert cows is same and same.value == 3
    assert scope.get("consumed", {"resource": "amqp", "queue": "cows"}) is same  # in the current scope

    plain = instrumentation.counter("things", "things")
    plain.inc(3)
    assert Counter("things", "things").value == 3

    lag = instrumentation.gauge("lag", "messages", labels=("partition",))
    lag.labels(partition=0).set(5)
    lag.labels(partition=0).dec()
    assert Gauge("lag", "messages", labels={"partition": "0"}).value == 4

    took = instrumentation.summary("took", "seconds", labels=("queue",))
    took.labels(queue="cows").observe(0.5)
    took.labels(queue="cows").observe_many([0.1, 0.2])
    summary = Summary("took", "seconds", labels={"queue": "cows"})
    assert summary.count == 3


def test_a_family_of_another_type_or_unit_is_refused_when_the_instrument_is_created(scope: MeterScope) -> None:
    Counter("taken", "things")
    with pytest.raises(MeterConflictError, match="'taken' already exists as a Counter"):
        instrumentation.gauge("taken", "things")
    with pytest.raises(MeterConflictError, match="in unit 'things'"):
        instrumentation.counter("taken", "seconds")


def test_enabled_while_a_service_scope_is_current() -> None:
    assert instrumentation.enabled() is False  # process-wide: no service exports it
    with meter_scope(MeterScope("service")):
        assert instrumentation.enabled() is True


def test_the_instrument_keeps_the_scope_it_was_created_in() -> None:
    with meter_scope(MeterScope("service")) as service:
        requests = instrumentation.counter("scoped_requests", "requests", labels=("route",))
    requests.labels(route="/").inc()  # recorded later, from another context
    assert service.get("scoped_requests", {"route": "/"}) is not None
    assert "scoped_requests" not in GLOBAL_SCOPE.families


def test_collect_hooks_run_before_each_export_of_the_current_scope() -> None:
    calls: list[str] = []

    def hook() -> None:
        calls.append("flushed")

    with meter_scope(MeterScope("service")) as service:
        instrumentation.add_collect_hook(hook)
    exported_families([service])
    assert calls == ["flushed"]
    instrumentation.remove_collect_hook(hook)  # from any context: removed where it was added
    exported_families([service])
    assert calls == ["flushed"]

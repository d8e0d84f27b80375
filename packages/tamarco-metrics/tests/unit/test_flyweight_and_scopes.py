"""The flyweight rules (0.1 docs 3.9 and 5.1.2), name checks, and which scope a meter is in."""

from __future__ import annotations

import asyncio

import pytest
from tamarco.core.patterns import FlyweightWithLabels
from tamarco.resources.basic.metrics import (
    GLOBAL_SCOPE,
    Counter,
    Gauge,
    InvalidMetricNameError,
    MeterConflictError,
    MeterScope,
    Summary,
    current_scope,
    meter_scope,
)
from tamarco.resources.basic.metrics._scope import activate, deactivate


def test_same_name_and_labels_is_the_same_object(scope: MeterScope) -> None:
    assert Counter("cats", "animals") is Counter("cats", "animals")
    assert Counter("cats", "animals") is Counter(name="cats", unit="animals")
    get_1 = Counter("request", "requests", labels={"protocol": "http", "method": "get"})
    post_1 = Counter("request", "requests", labels={"protocol": "http", "method": "post"})
    get_2 = Counter("request", "requests", labels={"method": "get", "protocol": "http"})
    post_2 = Counter("request", "requests", {"protocol": "http", "method": "post"})
    assert get_1 is get_2
    assert post_1 is post_2
    assert get_1 is not post_1
    assert Counter("request", "requests") is not get_1
    assert isinstance(Counter, FlyweightWithLabels)


def test_state_is_shared_through_the_flyweight(scope: MeterScope) -> None:
    Counter("meows", "sounds").inc()
    Counter("meows", "sounds").inc()
    assert Counter("meows", "sounds").value == 2


def test_label_values_are_compared_as_text(scope: MeterScope) -> None:
    ok = Counter("http_requests", "requests", labels={"status_code": 200})
    assert ok.labels == {"status_code": "200"}
    assert Counter("http_requests", "requests", labels={"status_code": "200"}) is ok


def test_new_labels_gives_the_labelled_child(scope: MeterScope) -> None:
    http = Counter("http_requests", "requests", labels={"protocol": "http"})
    not_found = http.new_labels({"status_code": 404})
    assert not_found.labels == {"protocol": "http", "status_code": "404"}
    assert not_found is Counter("http_requests", "requests", labels={"protocol": "http", "status_code": 404})
    assert http.new_labels({"status_code": 404}) is not_found
    assert http.new_labels({"status_code": "404"}) is not_found
    replaced = http.new_labels({"protocol": "https"})
    assert replaced.labels == {"protocol": "https"}
    assert http.labels == {"protocol": "http"}


def test_new_labels_keeps_the_meter_options(scope: MeterScope) -> None:
    summary = Summary("latency", "seconds", quantiles=[0.5], window_seconds=30)
    child = summary.new_labels({"route": "/"})
    assert child.quantiles == (0.5,)
    assert child.window_seconds == 30
    gauge = Gauge("slots", "slots", start_value=8)
    assert gauge.new_labels({"pool": "a"}).value == 8


def test_same_name_other_type_or_unit_is_an_error(scope: MeterScope) -> None:
    Counter("jobs", "jobs")
    with pytest.raises(MeterConflictError, match=r"'jobs' already exists as a Counter in unit 'jobs'.*Gauge"):
        Gauge("jobs", "jobs")
    with pytest.raises(MeterConflictError, match=r"Summary"):
        Summary("jobs", "jobs", labels={"kind": "x"})
    with pytest.raises(MeterConflictError, match=r"unit 'tasks'"):
        Counter("jobs", "tasks")
    assert isinstance(MeterConflictError("x"), ValueError)


@pytest.mark.parametrize("name", ["1cats", "cats-total", "cats.total", "", "__cats", "cats total", "cätze", None, 3])
def test_invalid_metric_names_are_named(scope: MeterScope, name: object) -> None:
    with pytest.raises(InvalidMetricNameError, match=rf"invalid metric name {name!r}"):
        Counter(name, "things")  # type: ignore[arg-type]


@pytest.mark.parametrize("label", ["1a", "a-b", "", "__a", "deploy_name"])
def test_invalid_label_names_are_named(scope: MeterScope, label: str) -> None:
    with pytest.raises(InvalidMetricNameError, match=rf"meter 'cats'.*label name {label!r}"):
        Counter("cats", "animals", labels={label: "x"})
    counter = Counter("cats", "animals")
    with pytest.raises(InvalidMetricNameError, match=rf"label name {label!r}"):
        counter.new_labels({label: "x"})


def test_quantile_label_is_reserved_for_summaries_only(scope: MeterScope) -> None:
    with pytest.raises(InvalidMetricNameError, match=r"'quantile' is reserved"):
        Summary("latency", "seconds", labels={"quantile": "x"})
    assert Counter("quantiles_seen", "things", labels={"quantile": "p50"}).labels == {"quantile": "p50"}


def test_unit_must_be_text(scope: MeterScope) -> None:
    with pytest.raises(TypeError, match=r"meter 'cats': unit must be a string"):
        Counter("cats", 3)  # type: ignore[arg-type]


def test_meters_outside_services_are_process_wide(global_name: str) -> None:
    assert current_scope() is GLOBAL_SCOPE
    meter = Counter(global_name, "things")
    assert meter.scope is GLOBAL_SCOPE
    service = MeterScope("service_a")
    with meter_scope(service):
        # the name exists process-wide: every service gets the same object, and its children
        assert Counter(global_name, "things") is meter
        child = Counter(global_name, "things", labels={"a": "1"})
        assert child.scope is GLOBAL_SCOPE
        assert meter.new_labels({"b": "2"}).scope is GLOBAL_SCOPE
    assert service.families == {}


def test_meters_created_inside_a_service_are_not_shared() -> None:
    service_a, service_b = MeterScope("a"), MeterScope("b")
    with meter_scope(service_a):
        counter_a = Counter("handled", "requests")
        counter_a.inc()
    with meter_scope(service_b):
        counter_b = Counter("handled", "requests")
    assert counter_a is not counter_b
    assert counter_b.value == 0
    assert counter_a.scope is service_a and counter_b.scope is service_b
    assert "handled" not in GLOBAL_SCOPE.families


def test_children_live_where_their_parent_lives(global_name: str) -> None:
    service = MeterScope("service")
    with meter_scope(service):
        local = Counter("local_only", "things")
    # new_labels called later from anywhere stays in the parent's scope
    child = local.new_labels({"x": "1"})
    assert child.scope is service
    assert service.get("local_only", {"x": "1"}) is child


async def test_a_service_scope_follows_the_asyncio_context() -> None:
    service = MeterScope("async_service")
    seen: list[MeterScope] = []

    async def started_by_the_service() -> None:
        seen.append(current_scope())
        Counter("from_task", "things").inc()

    async def service_start() -> None:
        activate(service)
        await asyncio.get_running_loop().create_task(started_by_the_service())
        deactivate(service)

    await asyncio.get_running_loop().create_task(service_start())
    assert seen == [service]
    assert current_scope() is GLOBAL_SCOPE  # the test's own context never saw it
    assert service.get("from_task").value == 1  # type: ignore[union-attr]
    assert "from_task" not in GLOBAL_SCOPE.families


def test_type_conflict_with_a_service_scope_is_detected(global_name: str) -> None:
    service = MeterScope("service_conflict")
    activate(service)  # registers it as a live service scope
    deactivate(service)
    with meter_scope(service):
        Counter(global_name, "things")
    with pytest.raises(MeterConflictError, match=global_name):
        Gauge(global_name, "things")

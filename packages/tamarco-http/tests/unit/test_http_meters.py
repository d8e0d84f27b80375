"""The per-route meters hook: absent metrics package → None; present → labelled meters."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest
from tamarco.resources.io.http import _meters


class FakeMeter:
    """Records what the HTTP middleware does with the tamarco-metrics API."""

    created: list[FakeMeter] = []

    def __init__(self, name: str, unit: str, labels: dict | None = None) -> None:
        self.name, self.unit, self.labels = name, unit, labels or {}
        self.increments = 0
        self.observations: list[float] = []
        FakeMeter.created.append(self)

    def new_labels(self, labels: dict) -> FakeMeter:
        return type(self)(self.name, self.unit, {**self.labels, **labels})

    def inc(self) -> None:
        self.increments += 1

    def observe(self, value: float) -> None:
        self.observations.append(value)


@pytest.fixture
def fake_metrics(monkeypatch):
    module = ModuleType(_meters.METRICS_MODULE)
    module.Counter = FakeMeter  # type: ignore[attr-defined]
    module.Summary = FakeMeter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, _meters.METRICS_MODULE, module)
    FakeMeter.created = []
    return module


def test_no_metrics_package_means_no_meters(monkeypatch):
    monkeypatch.setitem(sys.modules, _meters.METRICS_MODULE, None)  # import raises ImportError
    assert _meters.request_meters("api") is None
    monkeypatch.setitem(sys.modules, _meters.METRICS_MODULE, ModuleType(_meters.METRICS_MODULE))
    assert _meters.request_meters("api") is None  # a placeholder without Counter/Summary


def test_no_exporter_in_the_service_means_no_meters(fake_metrics):
    class MetricsResource:
        pass

    fake_metrics.MetricsResource = MetricsResource
    assert _meters.request_meters("api", [object()]) is None
    assert _meters.request_meters("api", [object(), MetricsResource()]) is not None


async def test_requests_are_counted_per_route_method_and_status(fake_metrics):
    meters = _meters.request_meters("api")
    assert meters is not None
    route = SimpleNamespace(path="items/<item_id>")
    for status in (200, 200, 500):
        req = SimpleNamespace(method="GET", route=route, ctx=SimpleNamespace())
        await meters.on_request(req)  # type: ignore[arg-type]
        await meters.on_response(req, SimpleNamespace(status=status))  # type: ignore[arg-type]
    unmatched = SimpleNamespace(method="GET", route=None, ctx=SimpleNamespace())
    await meters.on_response(unmatched, SimpleNamespace(status=404))  # type: ignore[arg-type]

    counters = {
        (m.labels["route"], m.labels["status_code"]): m
        for m in FakeMeter.created
        if m.name == "http_requests" and m.labels
    }
    assert counters[("/items/<item_id>", "200")].increments == 2
    assert counters[("/items/<item_id>", "500")].increments == 1
    assert counters[("unmatched", "404")].increments == 1
    assert counters[("unmatched", "404")].labels["server"] == "api"
    summaries = [m for m in FakeMeter.created if m.name == "http_request_duration" and m.labels]
    assert len(summaries) == 1 and len(summaries[0].observations) == 3
    assert all(value >= 0 for value in summaries[0].observations)
    assert summaries[0].unit == "seconds"

"""The per-route meters hook: absent metrics package → None; present → labelled meters."""

from __future__ import annotations

import sys
from types import ModuleType, SimpleNamespace

import pytest
from sanic.exceptions import NotFound
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
        """Like the real flyweights: the same name and labels give the same meter."""
        merged = {**self.labels, **labels}
        for meter in FakeMeter.created:
            if meter.name == self.name and meter.labels == merged:
                return meter
        return type(self)(self.name, self.unit, merged)

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
    responses = iter([SimpleNamespace(status=200), SimpleNamespace(status=201), SimpleNamespace(status=202)])

    async def handler(request, item_id):
        return next(responses)

    async def failing(request, item_id):
        raise NotFound("no such item")

    async def crashing(request, item_id):
        raise RuntimeError("boom")

    current = {"meters": meters}
    metered = _meters.metered_handler(handler, "items/<item_id>", lambda: current["meters"])
    assert _meters.is_metered(metered) and not _meters.is_metered(handler)
    assert metered.__name__ == "handler"
    request = SimpleNamespace(method="GET")
    assert (await metered(request, item_id=1)).status == 200
    assert (await metered(request, item_id=2)).status == 201
    with pytest.raises(NotFound):
        await _meters.metered_handler(failing, "items/<item_id>", lambda: meters)(request, item_id=3)
    with pytest.raises(RuntimeError):
        await _meters.metered_handler(crashing, "items/<item_id>", lambda: meters)(request, item_id=4)
    meters.record(_meters.UNMATCHED_ROUTE, "GET", 404, None)
    current["meters"] = None  # meters turned off: the wrapper only calls the handler
    assert (await metered(request, item_id=5)).status == 202

    counted = [m for m in FakeMeter.created if m.name == "http_requests" and m.labels]
    counters = {(m.labels["route"], m.labels["status_code"]): m for m in counted}
    assert counters[("/items/<item_id>", "200")].increments == 1
    assert counters[("/items/<item_id>", "201")].increments == 1
    assert counters[("/items/<item_id>", "404")].increments == 1
    assert counters[("/items/<item_id>", "500")].increments == 1
    assert counters[("unmatched", "404")].increments == 1
    assert counters[("unmatched", "404")].labels["server"] == "api"
    assert ("/items/<item_id>", "202") not in counters
    summaries = [m for m in FakeMeter.created if m.name == "http_request_duration" and m.labels]
    assert len(summaries) == 1 and len(summaries[0].observations) == 4
    assert all(value >= 0 for value in summaries[0].observations)
    assert summaries[0].unit == "seconds"


async def test_sync_handlers_are_measured_too(fake_metrics):
    meters = _meters.request_meters("api")

    def sync_handler(request):
        return SimpleNamespace(status=204)

    metered = _meters.metered_handler(sync_handler, "", lambda: meters)
    assert (await metered(SimpleNamespace(method="DELETE"))).status == 204
    assert any(m.labels.get("route") == "/" and m.increments == 1 for m in FakeMeter.created)

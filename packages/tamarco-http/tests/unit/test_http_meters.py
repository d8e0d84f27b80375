"""The per-route meters hook: no instrumentation enabled → None; enabled → labelled meters."""

from __future__ import annotations

from time import perf_counter
from types import SimpleNamespace

import pytest
from sanic.http import Http
from tamarco.core import instrumentation
from tamarco.resources.io.http import _meters


class FakeMeter:
    """A bound meter of :class:`FakeProvider`: records what the request meters do."""

    created: list[FakeMeter] = []

    def __init__(self, name: str, unit: str, labels: dict[str, str]) -> None:
        self.name, self.unit, self.labels = name, unit, labels
        self.increments = 0
        self.observations: list[float] = []
        FakeMeter.created.append(self)

    def inc(self, n: float = 1, /) -> None:
        self.increments += n

    def observe_many(self, values: list[float], /) -> None:
        self.observations.extend(values)


class FakeProvider:
    """An instrumentation implementation (what tamarco-metrics provides), in memory."""

    def __init__(self, enabled: bool = True) -> None:
        self.is_enabled = enabled
        self.collect_hooks: list = []

    def _binder(self, name, unit, label_names):
        def bind(labels):
            for meter in FakeMeter.created:  # like the real flyweights: same name and labels, same meter
                if meter.name == name and meter.labels == labels:
                    return meter
            return FakeMeter(name, unit, labels)

        return bind

    counter = summary = gauge = _binder

    def enabled(self) -> bool:
        return self.is_enabled

    def add_collect_hook(self, hook) -> None:
        self.collect_hooks.append(hook)

    def remove_collect_hook(self, hook) -> None:
        self.collect_hooks = [known for known in self.collect_hooks if known != hook]


@pytest.fixture
def fake_metrics():
    provider = FakeProvider()
    instrumentation.set_provider(provider)
    FakeMeter.created = []
    yield provider
    instrumentation.reset_provider()


def test_no_instrumentation_means_no_meters():
    instrumentation.set_provider(None)  # as without tamarco-metrics installed
    try:
        assert _meters.request_meters("api") is None
    finally:
        instrumentation.reset_provider()


def test_no_exporter_in_the_service_means_no_meters(fake_metrics):
    fake_metrics.is_enabled = False  # installed, but the current service exports nothing
    assert _meters.request_meters("api") is None
    fake_metrics.is_enabled = True
    assert _meters.request_meters("api") is not None


def test_the_batch_is_flushed_before_each_export_until_closed(fake_metrics):
    meters = _meters.request_meters("api")
    assert meters is not None and fake_metrics.collect_hooks == [meters.flush]
    meters.record("", "GET", 200, 0.5)
    for hook in fake_metrics.collect_hooks:  # what the exporter does before reading
        hook()
    assert labelled("http_requests")[("/", "GET", "200")].increments == 1
    meters.close()
    assert fake_metrics.collect_hooks == []


class FakeProtocol(SimpleNamespace):
    """What ``MeteredHttp`` needs of its protocol."""

    def __init__(self, meters, access_log=False):
        super().__init__(
            send=None,
            receive_more=None,
            recv_buffer=bytearray(),
            request_max_size=0,
            app=SimpleNamespace(dispatch=None),
            tamarco_access_log=access_log,
        )


def respond(http, route_path, method, status, started=0.0):
    """What Sanic does around one response: request, response, then ``log_response()``."""
    route = SimpleNamespace(path=route_path) if route_path is not None else None
    http.request = SimpleNamespace(route=route, method=method)
    http.response = SimpleNamespace(status=status)
    http.perft0 = started
    http.log_response()


def labelled(name):
    return {
        (m.labels["route"], m.labels["method"], m.labels.get("status_code")): m
        for m in FakeMeter.created
        if m.name == name and m.labels
    }


def test_responses_are_counted_per_route_method_and_status_once_flushed(fake_metrics):
    meters = _meters.request_meters("api")
    http = _meters.metered_http(meters)(FakeProtocol(meters))
    started = perf_counter()
    for status in (200, 200, 500):
        respond(http, "items/<item_id>", "GET", status, started)
    respond(http, None, "GET", 404, started)  # matched no route
    respond(http, None, "BREW", 405, started)  # any method a client invents counts as OTHER
    respond(http, "items/<item_id>", "POST", 201, None)  # answered before the handler ran
    assert all(m.increments == 0 for m in labelled("http_requests").values())  # batched

    meters.flush()
    counters = labelled("http_requests")
    assert counters[("/items/<item_id>", "GET", "200")].increments == 2
    assert counters[("/items/<item_id>", "GET", "500")].increments == 1
    assert counters[("/items/<item_id>", "POST", "201")].increments == 1
    assert counters[("unmatched", "GET", "404")].increments == 1
    assert counters[("unmatched", "OTHER", "405")].increments == 1
    assert counters[("unmatched", "GET", "404")].labels["server"] == "api"
    assert len(counters) == 5
    summaries = labelled("http_request_duration")
    assert len(summaries[("/items/<item_id>", "GET", None)].observations) == 3
    assert all(0 <= value < 60 for value in summaries[("/items/<item_id>", "GET", None)].observations)
    assert summaries[("/items/<item_id>", "POST", None)].observations == [0.0]
    assert summaries[("/items/<item_id>", "GET", None)].unit == "seconds"
    assert ("BREW",) not in {(m.labels["method"],) for m in FakeMeter.created if m.labels}
    assert len(meters.pending) == 5  # bounded: the raw method BREW is not a key

    meters.flush()  # nothing pending: nothing counted twice
    assert counters[("/items/<item_id>", "GET", "200")].increments == 2


def test_a_response_flushes_once_the_flush_time_is_due(fake_metrics):
    meters = _meters.request_meters("api")
    http = _meters.metered_http(meters)(FakeProtocol(meters))
    respond(http, "", "GET", 200, perf_counter())
    assert labelled("http_requests")[("/", "GET", "200")].increments == 0
    meters.flush_at = 0.0
    respond(http, "", "GET", 200, perf_counter())
    assert labelled("http_requests")[("/", "GET", "200")].increments == 2
    assert meters.flush_at > perf_counter()


def test_the_access_log_line_is_written_only_when_asked(fake_metrics, monkeypatch):
    logged = []
    monkeypatch.setattr(Http, "log_response", lambda self: logged.append(self.response.status))
    meters = _meters.request_meters("api")
    respond(_meters.metered_http(meters)(FakeProtocol(meters, access_log=False)), "", "GET", 200)
    respond(_meters.metered_http(meters)(FakeProtocol(meters, access_log=True)), "", "GET", 204)
    assert logged == [204]
    meters.close()
    assert labelled("http_requests")[("/", "GET", "200")].increments == 1


def test_metered_protocols_keep_sanic_protocols_and_touchup_registry():
    from sanic.server.protocols.http_protocol import HttpProtocol
    from sanic.server.protocols.websocket_protocol import WebSocketProtocol
    from sanic.touchup import TouchUp

    registry = set(TouchUp._registry)
    meters = SimpleNamespace(pending={}, appender=None)
    for base in (HttpProtocol, WebSocketProtocol):
        protocol = _meters.metered_protocol(base, meters=meters)  # type: ignore[arg-type]
        assert issubclass(protocol, base) and issubclass(protocol.HTTP_CLASS, _meters.MeteredHttp)
        assert protocol.HTTP_CLASS.meters is meters
    assert hasattr(_meters.metered_protocol(WebSocketProtocol, meters), "log_websocket")  # type: ignore[arg-type]
    assert TouchUp._registry == registry  # subclasses add nothing for Sanic to rewrite

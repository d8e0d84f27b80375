"""The Prometheus exposition text and the Graphite lines of a set of meters."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from tamarco.resources.basic.metrics import GLOBAL_SCOPE, Counter, Gauge, MeterScope, Summary, TamarcoCollector
from tamarco.resources.basic.metrics._graphite import graphite_lines, graphite_prefix, quantile_suffix
from tamarco.resources.basic.metrics._prometheus import new_registry, render


def _render(scopes: list[MeterScope], prefix: str = "billing_api", deploy_name: str | None = None) -> str:
    registry = new_registry(TamarcoCollector(lambda: scopes, prefix, deploy_name))
    body, content_type = render(registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    return body.decode()


def test_exposition_text(scope: MeterScope) -> None:
    Counter("cats", "animals").inc(3)
    Counter("http_requests", "requests").new_labels({"status_code": 200}).inc()
    Gauge("websocket_connections", "connections", start_value=2)
    summary = Summary("http_response_time", "time", quantiles=[0.5, 0.99])
    for value in range(100):
        summary.observe(value)
    Gauge("heap", "bytes").set(1024)
    assert _render([scope], deploy_name="staging") == (
        "# HELP billing_api_cats_total cats (animals)\n"
        "# TYPE billing_api_cats_total counter\n"
        'billing_api_cats_total{deploy_name="staging"} 3.0\n'
        "# HELP billing_api_heap_bytes heap (bytes)\n"
        "# TYPE billing_api_heap_bytes gauge\n"
        'billing_api_heap_bytes{deploy_name="staging"} 1024.0\n'
        "# HELP billing_api_http_requests_total http_requests (requests)\n"
        "# TYPE billing_api_http_requests_total counter\n"
        'billing_api_http_requests_total{deploy_name="staging",status_code="200"} 1.0\n'
        "# HELP billing_api_http_response_time http_response_time (time)\n"
        "# TYPE billing_api_http_response_time summary\n"
        'billing_api_http_response_time{deploy_name="staging",quantile="0.5"} 49.0\n'
        'billing_api_http_response_time{deploy_name="staging",quantile="0.99"} 98.0\n'
        'billing_api_http_response_time_count{deploy_name="staging"} 100.0\n'
        'billing_api_http_response_time_sum{deploy_name="staging"} 4950.0\n'
        "# HELP billing_api_websocket_connections websocket_connections (connections)\n"
        "# TYPE billing_api_websocket_connections gauge\n"
        'billing_api_websocket_connections{deploy_name="staging"} 2.0\n'
    )


def test_exposition_parses_back_with_prometheus_client(scope: MeterScope) -> None:
    Counter("requests_total", "requests", labels={"path": 'a"b\\c'}).inc(2)
    Summary("duration", "seconds").observe(0.5)
    families = {family.name: family for family in text_string_to_metric_families(_render([scope]))}
    # a meter already named *_total is not suffixed twice
    requests = families["billing_api_requests"]
    assert requests.type == "counter"
    assert [(s.name, s.labels, s.value) for s in requests.samples] == [
        ("billing_api_requests_total", {"path": 'a"b\\c'}, 2.0)
    ]
    duration = families["billing_api_duration_seconds"]
    assert duration.type == "summary"
    values = {(s.name, s.labels.get("quantile")): s.value for s in duration.samples}
    assert values[("billing_api_duration_seconds_count", None)] == 1
    assert values[("billing_api_duration_seconds", "0.5")] == 0.5


def test_openmetrics_when_asked(scope: MeterScope) -> None:
    Counter("cats", "animals").inc()
    registry = new_registry(TamarcoCollector(lambda: [scope], "svc"))
    body, content_type = render(registry, "application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    text = body.decode()
    assert "svc_cats_total 1.0\n" in text
    assert text.endswith("# EOF\n")


def test_template_meter_without_labels_is_left_out(scope: MeterScope) -> None:
    template = Counter("http_requests", "requests")
    template.new_labels({"status_code": 500}).inc()
    text = _render([scope])
    assert 'billing_api_http_requests_total{status_code="500"} 1.0' in text
    assert "billing_api_http_requests_total 0.0" not in text
    template.inc()  # used on its own: exported
    assert "billing_api_http_requests_total 1.0" in _render([scope])


def test_service_scope_wins_over_a_process_wide_duplicate(global_name: str) -> None:
    service = MeterScope("svc")
    service.families.clear()
    from tamarco.resources.basic.metrics import meter_scope

    with meter_scope(service):
        Counter(global_name, "things").inc(5)
    Counter(global_name, "things").inc(1)  # created process-wide afterwards
    Counter(global_name, "things", labels={"only": "global"}).inc(7)
    text = _render([service, GLOBAL_SCOPE], prefix="svc")
    assert f"svc_{global_name}_total 5.0" in text
    assert f"svc_{global_name}_total 1.0" not in text
    assert f'svc_{global_name}_total{{only="global"}} 7.0' in text


def test_graphite_lines(scope: MeterScope) -> None:
    Counter("cats", "animals").inc(3)
    Counter("http_requests", "requests", labels={"status_code": 404, "method": "GET"}).inc()
    Gauge("temperature", "celsius").set(21.5)
    summary = Summary("latency", "seconds", quantiles=[0.5, 0.999])
    for value in range(100):
        summary.observe(value)
    Summary("idle", "seconds")
    lines = graphite_lines([scope], "prod.billing_api.host1", 1700000000)
    assert lines == [
        "prod.billing_api.host1.cats 3 1700000000\n",
        "prod.billing_api.host1.http_requests.method_GET.status_code_404 1 1700000000\n",
        "prod.billing_api.host1.idle.count 0 1700000000\n",
        "prod.billing_api.host1.idle.sum 0 1700000000\n",
        "prod.billing_api.host1.latency.count 100 1700000000\n",
        "prod.billing_api.host1.latency.sum 4950 1700000000\n",
        "prod.billing_api.host1.latency.p50 49 1700000000\n",
        "prod.billing_api.host1.latency.p99_9 99 1700000000\n",
        "prod.billing_api.host1.temperature 21.5 1700000000\n",
    ]


def test_graphite_path_components_are_sanitized(scope: MeterScope) -> None:
    Counter("hits", "hits", labels={"path": "/a.b c"}).inc()
    assert graphite_lines([scope], "p", 1) == ["p.hits.path__a_b_c 1 1\n"]


def test_graphite_prefix() -> None:
    assert graphite_prefix("{deploy_name}.{service_name}.{hostname}", "billing-api", None, "web.1") == (
        "billing-api.web_1"
    )
    assert graphite_prefix("{deploy_name}.{service_name}.{hostname}", "svc", "prod", "h") == "prod.svc.h"
    assert graphite_prefix("metrics.{service_name}", "svc", "prod", "h") == "metrics.svc"
    assert quantile_suffix(0.5) == "p50"
    assert quantile_suffix(0.999) == "p99_9"

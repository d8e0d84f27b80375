"""One trace across three processes, HTTP → AMQP → Kafka → HTTP, on the harness's RabbitMQ, Kafka
and OTLP receiver (``services/chain.py``):

client ``POST /orders/7`` → A (SERVER span, pushes to RabbitMQ: PRODUCER) → B (CONSUMER, sends to
Kafka: PRODUCER) → C (CONSUMER, calls A: CLIENT) → A (SERVER ``GET /orders/<order:int>/done``).

Every span has the client's trace id and the parent the chain says; every handler's log line
carries that trace id and its own span's id.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tamarco.harness import ServiceProcess

pytestmark = pytest.mark.functional

CHAIN = Path(__file__).parent / "services" / "chain.py"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN_ID = "b7ad6b7169203331"
FAST_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200, "rebalance_timeout_ms": 1000}
LOG_IDS = re.compile(r'trace_id="([0-9a-f]{32})" span_id="([0-9a-f]{16})"')


def settings(otlp_url: str, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": {
            "logging": {"profile": "DEVELOP"},
            "tracing": {"enabled": True, "endpoint": otlp_url},
            "resources": {"tamarco_http_report_server": {"port": 0}, **resources},
        }
    }


def log_ids(service: ServiceProcess, step: str) -> tuple[str, str]:
    line = next(line for line in service.output.splitlines() if step in line)
    found = LOG_IDS.search(line)
    assert found, f"no trace ids on the handler's log line: {line}"
    return found.group(1), found.group(2)


def test_one_trace_from_http_through_rabbitmq_and_kafka_back_to_http(
    otlp_collector, rabbitmq_service, rabbitmq_vhost, kafka_service, kafka_topic, unique_name, free_port
):
    amqp = {
        "host": rabbitmq_service.host,
        "port": rabbitmq_service.port,
        "vhost": rabbitmq_vhost,
        "user": rabbitmq_service.user,
        "password": rabbitmq_service.password,
        "connection_timeout": 10,
    }
    kafka = {"bootstrap_servers": kafka_service.bootstrap_servers, "consumer": dict(FAST_GROUP)}
    env = {"CHAIN_QUEUE": f"{unique_name}.orders", "CHAIN_TOPIC": kafka_topic, "CHAIN_GROUP": unique_name}
    a_settings = settings(otlp_collector.url, {"http": {"port": free_port}, "amqp": amqp})
    b_settings = settings(otlp_collector.url, {"amqp": amqp, "kafka": kafka})
    c_settings = settings(
        otlp_collector.url, {"kafka": kafka, "a_client": {"base_url": f"http://127.0.0.1:{free_port}"}}
    )
    with (
        ServiceProcess(CHAIN, settings=a_settings, env={**env, "CHAIN_ROLE": "a"}) as a,
        ServiceProcess(CHAIN, settings=b_settings, env={**env, "CHAIN_ROLE": "b"}) as b,
        ServiceProcess(CHAIN, settings=c_settings, env={**env, "CHAIN_ROLE": "c"}) as c,
    ):
        for service in (a, b):
            service.wait_for(r"lifecycle: running", timeout=60)
        c.wait_for(r"input \S+ \(group '[^']+'\) assigned", timeout=60)
        request = urllib.request.Request(
            f"http://127.0.0.1:{free_port}/orders/7",
            method="POST",
            headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        a.wait_for(r"^DONE 7", timeout=60)
        spans = otlp_collector.wait_for_spans(lambda span: span["trace_id"] == TRACE_ID, count=7, timeout=30)
        for service in (a, b, c):
            assert service.terminate() == 0, service.output
    by_name = {(span["resource"]["service.name"], span["name"]): span for span in spans}
    chain = [
        ("chain_a", "POST /orders/<order:int>", "SERVER"),
        ("chain_a", f"push {env['CHAIN_QUEUE']}", "PRODUCER"),
        ("chain_b", f"process {env['CHAIN_QUEUE']}", "CONSUMER"),
        ("chain_b", f"push {kafka_topic}", "PRODUCER"),
        ("chain_c", f"process {kafka_topic}", "CONSUMER"),
        ("chain_c", "GET", "CLIENT"),
        ("chain_a", "GET /orders/<order:int>/done", "SERVER"),
    ]
    parent = CLIENT_SPAN_ID
    for service_name, name, kind in chain:
        span = by_name.get((service_name, name))
        assert span is not None, f"no span {name!r} of {service_name}; got {sorted(by_name)}"
        assert span["kind"] == kind, span
        assert span["parent_span_id"] == parent, f"{name}: parent {span['parent_span_id']}, expected {parent}"
        parent = span["span_id"]
    assert by_name[("chain_a", "POST /orders/<order:int>")]["resource"]["service.version"] == "1.0.0"
    # Every handler's log line carries the trace, and the span its handler ran in.
    handlers = {
        (a, "step A: order 7 taken"): ("chain_a", "POST /orders/<order:int>"),
        (b, "step B: order 7 forwarded"): ("chain_b", f"process {env['CHAIN_QUEUE']}"),
        (c, "step C: order 7 notified"): ("chain_c", f"process {kafka_topic}"),
        (a, "step A: order 7 done"): ("chain_a", "GET /orders/<order:int>/done"),
    }
    for (service, step), span_key in handlers.items():
        assert log_ids(service, step) == (TRACE_ID, by_name[span_key]["span_id"]), step

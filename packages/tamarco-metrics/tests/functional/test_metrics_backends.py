"""The exporters against the harness's real services: Prometheus scraping ``/metrics`` and
carbon receiving the plaintext lines (also across a carbon outage)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.basic.metrics import CarbonHandler, Counter, Gauge, MetricsResource, Summary

pytestmark = pytest.mark.functional

Builder = Callable[..., MicroserviceContext]


@pytest.mark.harness_backends("local", "docker")  # a Prometheus process, and a container on the host network
async def test_prometheus_scrapes_the_service_and_promql_reads_the_counter(
    prometheus_service: Any, build: Builder, service_name: str
) -> None:
    service = build(service_name)
    await service.start()
    report_server = service.resources["tamarco_http_report_server"]
    instance = prometheus_service.add_target(report_server.host, report_server.port)  # type: ignore[attr-defined]
    try:
        Counter("orders", "orders").inc(7)
        Gauge("queue_size", "messages").set(3)
        summary = Summary("order_processing", "seconds")
        for value in range(100):
            summary.observe(value / 100)
        query = f'{service_name}_orders_total{{deploy_name="functional"}}'
        # the harness polls in a thread: the service keeps answering scrapes meanwhile
        result = await asyncio.to_thread(
            prometheus_service.wait_for_query, query, 30.0, lambda found: bool(found) and found[0]["value"][1] == "7"
        )
        assert result[0]["metric"]["instance"] == instance
        assert result[0]["metric"]["job"] == "harness"
        Counter("orders", "orders").inc(5)
        await asyncio.to_thread(
            prometheus_service.wait_for_query,
            query,
            30.0,
            lambda found: bool(found) and found[0]["value"][1] == "12",
        )
        gauge = await asyncio.to_thread(prometheus_service.query, f"{service_name}_queue_size")
        assert gauge[0]["value"][1] == "3"
        median = await asyncio.to_thread(
            prometheus_service.query, f'{service_name}_order_processing_seconds{{quantile="0.5"}}'
        )
        assert median[0]["value"][1] == "0.49"
    finally:
        prometheus_service.remove_target(report_server.host, report_server.port)  # type: ignore[attr-defined]
        await service.stop()


async def test_carbon_receives_the_metric_lines(carbon_service: Any, build: Builder, service_name: str) -> None:
    prefix = f"tamarco_ft.{service_name}"
    service = build(
        service_name,
        {
            "handlers": {
                "carbon": {
                    "enabled": True,
                    "host": carbon_service.host,
                    "port": carbon_service.port,
                    "collect_frequency": 0.2,
                    "prefix": prefix,
                }
            }
        },
    )
    await service.start()
    try:
        Counter("sent", "messages", labels={"queue": "orders"}).inc(3)
        summary = Summary("latency", "seconds")
        for value in range(100):
            summary.observe(value)
        await asyncio.to_thread(carbon_service.wait_for_metric, f"{prefix}.sent.queue_orders", 20.0, value=3)
        await asyncio.to_thread(carbon_service.wait_for_metric, f"{prefix}.latency.sum", 20.0, value=4950)
        await asyncio.to_thread(carbon_service.wait_for_metric, f"{prefix}.latency.p99", 20.0, value=98)
    finally:
        await service.stop()


class RecordsHandler(logging.Handler):
    """Keeps the records of one logger (the service's logging setup stops propagation at
    ``tamarco``, so pytest's caplog does not see them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_carbon_outage_keeps_accumulating_and_warns_once(
    carbon_service: Any, build: Builder, service_name: str
) -> None:
    prefix = f"tamarco_ft.{service_name}"
    service = build(
        service_name,
        {
            "handlers": {
                "carbon": {
                    "enabled": True,
                    "host": carbon_service.host,
                    "port": carbon_service.port,
                    "collect_frequency": 0.1,
                    "timeout": 1,
                    "prefix": prefix,
                }
            }
        },
    )
    records = RecordsHandler()
    metrics_logger = logging.getLogger("tamarco.metrics")
    metrics_logger.addHandler(records)
    await service.start()
    metrics: MetricsResource = service.resources["metrics"]  # type: ignore[assignment]
    handler = metrics.handlers[0][1]
    assert isinstance(handler, CarbonHandler)
    counter = Counter("processed", "messages")
    try:
        counter.inc()
        await asyncio.to_thread(carbon_service.wait_for_metric, f"{prefix}.processed", 20.0, value=1)
        await asyncio.to_thread(carbon_service.stop)
        try:
            for _ in range(200):  # several collections fail while carbon is down
                counter.inc()
                if handler.in_outage and len(handler.pending) >= 3:
                    break
                await asyncio.sleep(0.05)
            assert handler.in_outage
        finally:
            await asyncio.to_thread(carbon_service.start)
        total = counter.value
        await asyncio.to_thread(carbon_service.wait_for_metric, f"{prefix}.processed", 30.0, value=total)
    finally:
        await service.stop()
        metrics_logger.removeHandler(records)
    warnings = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert f"carbon at {carbon_service.host}:{carbon_service.port} unreachable" in warnings[0]
    assert any("reachable again" in r.getMessage() for r in records.records)

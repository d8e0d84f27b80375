"""A service's tracing: off and free by default; on, spans, log fields, health and the stop flush."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tamarco.core import tracing
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.tracing import NOOP_SPAN, SpanKind, TracingSettingsError


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def context(settings: dict, name: str = "traced") -> MicroserviceContext:
    cls = type("Ctx", (MicroserviceContext,), {"name": name, "version": "1.2.3"})
    ctx = cls(environ={})
    ctx.settings.update_internal({"system": {"deploy_name": "staging", "tracing": settings}})
    return ctx


def memory(ctx: MicroserviceContext) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    ctx.tracing._exporting.provider.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[union-attr]
    return exporter


async def test_off_by_default_everything_is_the_shared_noop():
    async with context({}) as ctx:
        assert not ctx.tracing.enabled and ctx.tracing.tracer is None
        assert ctx.tracing.start_span("x", SpanKind.SERVER) is NOOP_SPAN
        with ctx.tracing.span("y") as span:
            assert span is NOOP_SPAN
        headers: dict[str, str] = {}
        ctx.tracing.inject(headers)
        assert headers == {}
        assert ctx.tracing.report() == {"enabled": False}
        assert tracing.current_log_ids() is None
    assert tracing.of(object()) is tracing.NOOP_TRACING


OFF = """
import asyncio, sys
from tamarco.core.microservice import MicroserviceContext

class Ctx(MicroserviceContext):
    name = "no_tracing"

async def main():
    async with Ctx():
        pass

asyncio.run(main())
print("imported:" + ",".join(name for name in sys.modules if name.startswith("opentelemetry")))
"""


def test_tracing_off_imports_no_opentelemetry():
    result = subprocess.run([sys.executable, "-c", OFF], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip().splitlines()[-1] == "imported:"


async def test_a_bad_endpoint_fails_the_start_naming_the_key():
    ctx = context({"enabled": True, "endpoint": "collector:4318"})
    with pytest.raises(TracingSettingsError, match=r"setting system\.tracing\.endpoint must be an http\(s\) URL"):
        await ctx.start()
    await ctx.stop()


async def test_spans_resource_logs_and_propagation():
    settings = {"enabled": True, "endpoint": f"http://127.0.0.1:{closed_port()}", "timeout": 1}
    with capture_logs() as logs:
        async with context(settings) as ctx:
            spans = memory(ctx)
            assert ctx.tracing.enabled and tracing.active_services() >= 1
            with ctx.tracing.span("outer", attributes={"k": 1}):
                ctx.logger.info("inside")
                headers: dict[str, str] = {}
                ctx.tracing.inject(headers)
            ctx.logger.info("outside")
            child = ctx.tracing.start_span("remote child", SpanKind.CONSUMER, headers=headers)
            child.end()
            with pytest.raises(ValueError):
                with ctx.tracing.span("failing"):
                    raise ValueError("boom")
    finished = {span.name: span for span in spans.get_finished_spans()}
    outer_context = finished["outer"].context
    trace_id, span_id = format(outer_context.trace_id, "032x"), format(outer_context.span_id, "016x")
    assert headers["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    remote = finished["remote child"]
    assert remote.parent is not None and remote.parent.span_id == outer_context.span_id
    assert remote.context.trace_id == outer_context.trace_id
    assert remote.kind.name == "CONSUMER"
    failing = finished["failing"]
    assert failing.status.status_code.name == "ERROR" and failing.attributes["error.type"] == "ValueError"
    assert [event.name for event in failing.events] == ["exception"]
    resource = finished["outer"].resource.attributes
    assert resource["service.name"] == "traced" and resource["service.version"] == "1.2.3"
    assert resource["deployment.environment"] == "staging" and resource["service.instance.id"] == ctx.instance_id
    inside = logs.find(message="inside")
    assert inside.extra["trace_id"] == trace_id and inside.extra["span_id"] == span_id
    assert "trace_id" not in logs.find(message="outside").extra


async def test_collector_down_spans_dropped_counted_one_warning(caplog):
    settings = {"enabled": True, "endpoint": f"http://127.0.0.1:{closed_port()}", "timeout": 1}
    with capture_logs() as logs:
        ctx = context(settings)
        await ctx.start()
        exporting = ctx.tracing._exporting
        assert exporting is not None
        for number in range(3):
            ctx.tracing.start_span(f"span {number}").end()
        await asyncio.to_thread(exporting.provider.force_flush)  # fails: the collector is down
        for number in range(2):
            ctx.tracing.start_span(f"later span {number}").end()
        await ctx.tracing.stop()  # fails too
        await ctx.stop()
    report = ctx.tracing.report()
    assert report["spans_dropped"] == 5 and report["spans_exported"] == 0 and report["failed_exports"] == 2
    assert report["last_error"]
    warnings = [r for r in logs if r.logger == "tamarco.tracing" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.message for r in warnings]
    # OpenTelemetry's own per-batch error records stay out of the logs.
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry.exporter")]


async def test_header_values_are_secrets():
    settings = {
        "enabled": True,
        "endpoint": f"http://127.0.0.1:{closed_port()}",
        "headers": {"x-team-key": "s3cr3t-v4lue"},
    }
    async with context(settings) as ctx:
        report = ctx.tracing.report()
        assert report["headers"] == ["x-team-key"] and "s3cr3t-v4lue" not in repr(report)
        # The service's redactor (every log output, /status, lifecycle errors) masks the value.
        assert "s3cr3t-v4lue" not in ctx.redactor.text("the exporter sent s3cr3t-v4lue")


async def test_timer_runs_are_spans_only_when_asked():
    from tamarco.core.microservice import task_timer

    runs: list[tuple[str, str] | None] = []
    ran = asyncio.Event()

    class Timed(MicroserviceContext):
        name = "timed"

        @task_timer(interval=20, one_shot=True)
        async def tick(self):
            runs.append(tracing.current_log_ids())
            ran.set()

    for tasks, expect_span in ((False, False), (True, True)):
        runs.clear()
        ran.clear()
        ctx = Timed(environ={})
        endpoint = f"http://127.0.0.1:{closed_port()}"
        ctx.settings.update_internal(
            {"system": {"tracing": {"enabled": True, "endpoint": endpoint, "tasks": tasks, "timeout": 1}}}
        )
        async with ctx:
            exporter = memory(ctx)  # before the first run, 20 ms after the start
            await asyncio.wait_for(ran.wait(), 10)
        assert (runs[0] is not None) is expect_span
        names = [span.name for span in exporter.get_finished_spans()]
        assert names == (["timer tick"] if expect_span else [])


async def test_logstash_events_carry_the_trace_fields():
    import json

    from tamarco.core.logging.formatters import JSONLinesFormatter, LogstashFormatter
    from tamarco.core.tracing import TRACE_FIELDS_FILTER

    settings = {"enabled": True, "endpoint": f"http://127.0.0.1:{closed_port()}", "timeout": 1}
    async with context(settings) as ctx:
        with ctx.tracing.span("work"):
            record = logging.LogRecord("traced", logging.INFO, __file__, 1, "inside", (), None)
            TRACE_FIELDS_FILTER.filter(record)
            expected = tracing.current_log_ids()
    assert expected is not None
    for version in (0, 1):
        event = LogstashFormatter("traced", version=version).event(record)
        fields = event["@fields"] if version == 0 else event
        assert (fields["trace_id"], fields["span_id"]) == expected
    assert json.loads(JSONLinesFormatter("traced").format(record))["trace_id"] == expected[0]

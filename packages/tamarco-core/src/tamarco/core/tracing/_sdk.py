"""Tracing on: a service's own OpenTelemetry ``TracerProvider``, batch processor and OTLP/HTTP
exporter, and the health ``/status`` shows. Imported only when a service turns tracing on (the
``tracing`` extra installs what it imports).

Why a provider per service and not OpenTelemetry's global one: two services in one process (tests)
must not share settings or exporters. The context (the current span) is OpenTelemetry's, so a
user's own spans made with :attr:`Exporting.tracer`, or with any instrumentation library, join the
same traces.

A handler never waits for the collector: ending a span appends it to the batch processor's queue
(bounded, :data:`MAX_QUEUE_SIZE`), and a background thread exports. A collector that is down or
slow makes the queue fill up: the spans it cannot hold are dropped and counted, as are the spans
of a failed export; a warning says so at most once per :data:`WARNING_INTERVAL` seconds, and the
OpenTelemetry exporter's own log records (one per failed batch) are kept out of the service's logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import Link, Status, StatusCode
from tamarco.core.redaction import Redactor, redact_text
from tamarco.core.tracing._config import TracingConfig
from tamarco.core.tracing._noop import SpanKind

__all__ = ["MAX_QUEUE_SIZE", "WARNING_INTERVAL", "ExportHealth", "Exporting"]

logger = logging.getLogger("tamarco.tracing")

#: Ended spans waiting for export, at most (then the newest are dropped and counted).
MAX_QUEUE_SIZE = 2048
#: Spans per export request, at most.
MAX_EXPORT_BATCH_SIZE = 512
#: Milliseconds between two exports while few spans end.
SCHEDULE_DELAY_MILLIS = 1000
#: Seconds between two warnings about spans not exported.
WARNING_INTERVAL = 60.0

_KINDS = {
    SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
    SpanKind.SERVER: trace.SpanKind.SERVER,
    SpanKind.CLIENT: trace.SpanKind.CLIENT,
    SpanKind.PRODUCER: trace.SpanKind.PRODUCER,
    SpanKind.CONSUMER: trace.SpanKind.CONSUMER,
}
#: The loggers of OpenTelemetry's exporter and batch processor: one record per failed batch.
_OTEL_EXPORT_LOGGERS = ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry.sdk._shared_internal")
_exporting_here = threading.local()


class _HeadersGetter(Getter[Mapping[str, Any]]):
    """Reads ``traceparent`` from HTTP headers (case-insensitive mappings) and message headers,
    whose values may arrive as bytes (AMQP, Kafka)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            return None
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "replace")
        elif isinstance(value, (list, tuple)):
            return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in value]
        return [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier.keys())


_GETTER = _HeadersGetter()


class ExportHealth:
    """What the exporter did so far (updated by the export thread, read by ``/status``)."""

    def __init__(self, url: str, redactor: Redactor | None) -> None:
        self.url = url
        self.redactor = redactor
        self.exported = 0
        self.dropped = 0
        self.failed_exports = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_success_at: float | None = None
        self._warned_at = float("-inf")
        self._dropped_at_warning = 0
        #: What OpenTelemetry's exporter said during the export in progress (its thread only).
        self.export_messages: list[str] = []

    def note_error(self, text: str) -> None:
        masked = self.redactor.text(text) if self.redactor is not None else redact_text(text)
        self.last_error = masked[:500]
        self.last_error_at = time.time()

    def note_export_failure(self) -> None:
        """The export in progress failed: what the exporter said about it is the last error."""
        messages, self.export_messages = self.export_messages, []
        if not messages:
            self.note_error("the exporter gave up (no reason given)")
            return
        # The first says why (the retries repeat it); the last how it ended.
        more = f" ... {messages[-1]}" if len(messages) > 1 else ""
        self.note_error(f"{messages[0]}{more}")

    def drop(self, count: int, why: str) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL:
            self._warned_at = now
            logger.warning(
                "tracing: %d span%s dropped since the last warning, not exported to %s (%s; last error: %s); "
                "spans are dropped while the collector is down or slow, handlers never wait for it "
                "(at most one such warning a minute; /status counts them)",
                self.dropped - self._dropped_at_warning,
                "" if self.dropped - self._dropped_at_warning == 1 else "s",
                self.url,
                why,
                self.last_error or "none",
            )
            self._dropped_at_warning = self.dropped


class _OTelExportFilter(logging.Filter):
    """Keeps OpenTelemetry's per-batch export errors as the service's ``last_error`` instead of
    logging each one (the service warns once a minute at most)."""

    def filter(self, record: logging.LogRecord) -> bool:
        health: ExportHealth | None = getattr(_exporting_here, "health", None)
        if health is None:
            message = record.getMessage()
            return not message.startswith("Queue full")  # counted by _CountingProcessor
        if record.levelno >= logging.WARNING:
            health.export_messages.append(record.getMessage())
        return False


_FILTER = _OTelExportFilter()
for _name in _OTEL_EXPORT_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


class _HealthExporter(SpanExporter):
    """The OTLP exporter, counting what it exported and what it could not."""

    def __init__(self, inner: SpanExporter, health: ExportHealth) -> None:
        self.inner = inner
        self.health = health

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        health = self.health
        health.export_messages = []
        _exporting_here.health = health
        try:
            result = self.inner.export(spans)
        except Exception as error:  # an exporter bug must not kill the export thread
            health.export_messages.append(f"{type(error).__name__}: {error}")
            result = SpanExportResult.FAILURE
        finally:
            _exporting_here.health = None
        if result is SpanExportResult.SUCCESS:
            health.export_messages = []
            health.exported += len(spans)
            health.last_success_at = time.time()
        else:
            health.note_export_failure()
            health.failed_exports += 1
            health.drop(len(spans), "export failed")
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class _CountingProcessor(SpanProcessor):
    """The batch span processor, counting the spans its full queue drops.

    The queue holds what was handed and not yet taken by an export: ``handed - taken``.
    """

    def __init__(self, exporter: _HealthExporter) -> None:
        self.batch = BatchSpanProcessor(
            exporter,
            max_queue_size=MAX_QUEUE_SIZE,
            schedule_delay_millis=SCHEDULE_DELAY_MILLIS,
            max_export_batch_size=MAX_EXPORT_BATCH_SIZE,
        )
        self.health = exporter.health
        self.handed = 0
        exporter_export = exporter.export

        def export(spans: Sequence[ReadableSpan]) -> SpanExportResult:
            self.handed -= len(spans)
            return exporter_export(spans)

        exporter.export = export  # type: ignore[method-assign]

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or not context.trace_flags.sampled:
            return
        if self.handed >= MAX_QUEUE_SIZE:
            self.health.drop(1, "export queue full: the collector is slow or down")
        else:
            self.handed += 1
        self.batch.on_end(span)

    def shutdown(self) -> None:
        self.batch.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.batch.force_flush(timeout_millis)


def _sampler(config: TracingConfig) -> tuple[Sampler | None, str]:
    if config.sample_ratio is not None:
        return ParentBased(TraceIdRatioBased(config.sample_ratio)), f"parent-based, ratio {config.sample_ratio:g}"
    return None, "sampler of OTEL_TRACES_SAMPLER, default parent-based always on"


class Exporting:
    """Tracing on for one service: its provider, tracer, exporter and their health."""

    def __init__(self, config: TracingConfig, resource: Mapping[str, str], redactor: Redactor | None) -> None:
        self.config = config
        self.health = ExportHealth(config.shown_url, redactor)
        exporter = OTLPSpanExporter(endpoint=config.traces_url, headers=dict(config.headers), timeout=config.timeout)
        self.processor = _CountingProcessor(_HealthExporter(exporter, self.health))
        sampler, self.sampler_description = _sampler(config)
        # Resource.create adds OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME and the SDK's attributes.
        self.provider = TracerProvider(sampler=sampler, resource=Resource.create(dict(resource)))
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("tamarco")
        self.resource = dict(self.provider.resource.attributes)

    def start_span(
        self,
        name: str,
        kind: SpanKind,
        attributes: Mapping[str, Any] | None,
        headers: Mapping[str, Any] | None,
        links: Sequence[Any],
    ) -> Any:
        parent = propagate.extract(headers, getter=_GETTER) if headers else None
        return self.tracer.start_span(
            name, context=parent, kind=_KINDS[kind], attributes=attributes, links=links or None
        )

    @staticmethod
    def activate(span: Any) -> object:
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def deactivate(token: Any) -> None:
        otel_context.detach(token)

    @staticmethod
    def fail(span: Any, error: BaseException | str) -> None:
        if isinstance(error, BaseException):
            span.record_exception(error)
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        else:
            span.set_status(Status(StatusCode.ERROR, error))

    @staticmethod
    def inject(headers: MutableMapping[str, Any], span: Any = None) -> None:
        propagate.inject(headers, context=trace.set_span_in_context(span) if span is not None else None)

    @staticmethod
    def link(headers: Mapping[str, Any]) -> list[Any]:
        span_context = trace.get_current_span(propagate.extract(headers, getter=_GETTER)).get_span_context()
        return [Link(span_context)] if span_context.is_valid else []

    def shutdown(self, timeout: float) -> None:
        """Export what is queued (at most ``timeout`` seconds), then stop the export thread."""
        self.provider.force_flush(int(timeout * 1000))
        self.provider.shutdown()

    def report(self) -> dict[str, Any]:
        health = self.health
        queued = max(0, self.processor.handed)
        return {
            "enabled": True,
            "endpoint": health.url,
            "sampler": self.sampler_description,
            "headers": sorted(self.config.headers),  # names only: values are secrets
            "service_name": self.resource.get("service.name"),
            "spans_exported": health.exported,
            "spans_queued": queued,
            "spans_dropped": health.dropped,
            "failed_exports": health.failed_exports,
            "last_error": health.last_error,
            "last_error_at": health.last_error_at,
            "last_success_at": health.last_success_at,
        }

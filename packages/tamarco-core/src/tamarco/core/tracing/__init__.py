"""Distributed tracing with OpenTelemetry: core owns the API, the ``tracing`` extra the SDK.

A sibling of :mod:`tamarco.core.instrumentation`: every service has ``service.tracing`` (a
:class:`Tracing`), off by default. Off, or without the extra (``pip install
'tamarco-core[tracing]'``: the OpenTelemetry SDK and OTLP/HTTP exporter), nothing is imported, no
span is created and plugins install no hook: what tracing costs then is one ``enabled`` check at
start (``benchmarks/tracing_overhead.py``). On (``system.tracing.enabled: true``, see
:mod:`tamarco.core.tracing._config` for the keys and the ``OTEL_*`` variables), the service's
spans are exported in batches to ``<endpoint>/v1/traces``; the stop sequence exports the spans of
the drained work before the process exits.

What gets spans, with OpenTelemetry's semantic conventions:

- tamarco-http's server: a SERVER span per request, named ``GET /items/<id:int>`` (the route
  template), continuing the caller's ``traceparent``; its client: a CLIENT span per request, the
  ``traceparent`` injected;
- messaging (AMQP, Kafka, in-memory): a PRODUCER span per send or request, the W3C context in the
  message headers; a CONSUMER span per delivery (child of the producer's), the handler inside it,
  retries and dead-lettering as events;
- each run of a ``@task_timer`` when ``system.tracing.tasks`` is true (``@task`` runs are not
  traced: one usually lasts as long as the service, and would make all it does one trace).

Every log record emitted inside a span carries ``trace_id`` and ``span_id`` (hex): in the stdout
and file lines and as Logstash fields (:class:`TraceFieldsFilter`). ``/status`` shows
:meth:`Tracing.report`: on or off, the endpoint, spans exported, queued and dropped, the last
export error (header values never). A user's own spans::

    with self.tracing.span("compute price", attributes={"items": 3}) as span:
        ...  # a child of the current span (the request's, the message's)

A plugin creates its spans through :func:`of` (the no-op tracing for a resource outside a
service), checks ``enabled`` once when it starts, and installs nothing while it is False.
"""

from __future__ import annotations

import logging
from typing import Any

from tamarco.core.tracing._config import TracingConfig, TracingSettingsError, parse_tracing_settings
from tamarco.core.tracing._messaging import (
    current_span_event,
    reply_headers,
    reply_received,
    trace_consumer,
    trace_sender,
    traced_enqueue,
    traced_request,
    traced_send,
)
from tamarco.core.tracing._noop import NOOP_SPAN, NoopSpan, SpanKind
from tamarco.core.tracing._tracing import Tracing, active_services, current_log_ids

__all__ = [
    "NOOP_SPAN",
    "NOOP_TRACING",
    "NoopSpan",
    "SpanKind",
    "TraceFieldsFilter",
    "Tracing",
    "TracingConfig",
    "TracingSettingsError",
    "active_services",
    "current_log_ids",
    "current_span_event",
    "of",
    "parse_tracing_settings",
    "reply_headers",
    "reply_received",
    "trace_consumer",
    "trace_sender",
    "traced_enqueue",
    "traced_request",
    "traced_send",
]

#: The tracing of no service: always off.
NOOP_TRACING = Tracing()


def of(service: Any) -> Tracing:
    """The tracing of ``service`` (a resource's ``microservice``), or :data:`NOOP_TRACING`."""
    tracing = getattr(service, "tracing", None)
    return tracing if isinstance(tracing, Tracing) else NOOP_TRACING


class TraceFieldsFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` to a record emitted inside a span (before any handler
    formats it); a record that already has a ``trace_id`` keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = current_log_ids()
        if ids is not None and "trace_id" not in record.__dict__:
            record.trace_id, record.span_id = ids
        return True


TRACE_FIELDS_FILTER = TraceFieldsFilter()

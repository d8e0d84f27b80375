"""Messaging spans (AMQP, Kafka, in-memory), with OpenTelemetry's messaging semantic conventions.

Applied by core's messaging seam, so every transport gets them alike; nothing is wrapped while
the service does not trace.

- :func:`trace_consumer`: a CONSUMER span per delivery, ``process <queue or topic>``, child of
  the W3C context the message headers carry (the producer's span), current while the handler
  runs; retries (``tamarco.retry``) and the dead-lettering (``tamarco.dead_letter``) are events of
  it, and a message dead-lettered or rejected marks it as an error.
- :func:`traced_send` / :func:`traced_request`: a PRODUCER span per message sent or request made,
  ``<pattern> <destination>``, whose context goes in the message headers (``traceparent``,
  ``tracestate``). The responder's CONSUMER span of a request is a child of the request's span.
- Request/response linked both ways: the reply carries the responder's span context in its
  headers (:func:`reply_headers`, which the core's reply path calls), and the transport hands the
  reply's headers to :func:`reply_received`, which links the requester's PRODUCER span to the
  responder's span (a span link with ``tamarco.link: reply``).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tamarco.core.tracing._noop import SpanKind
from tamarco.core.tracing._tracing import Tracing, active_services

__all__ = [
    "current_span_event",
    "messaging_system",
    "reply_headers",
    "reply_received",
    "trace_consumer",
    "trace_sender",
    "traced_enqueue",
    "traced_request",
    "traced_send",
]

#: ``messaging.system`` of each transport kind.
SYSTEMS = {"amqp": "rabbitmq", "kafka": "kafka"}


def messaging_system(kind: str) -> str:
    return SYSTEMS.get(kind, kind)


def current_span_event(name: str, attributes: Mapping[str, Any] | None = None) -> None:
    """Add an event to the span current in this context (nothing when no service traces)."""
    if not active_services():
        return
    from opentelemetry.trace import get_current_span

    span = get_current_span()
    if span.is_recording():
        span.add_event(name, attributes=attributes)


def reply_headers() -> dict[str, str] | None:
    """The W3C context of the span current in this context (the responder's CONSUMER span while
    its handler answers), for a reply's headers; None when no service traces or no span is
    current."""
    if not active_services():
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


#: The reply headers a traced request waits for (set by :func:`traced_request` around the call).
_REPLY_HEADERS: contextvars.ContextVar[list[Mapping[str, Any]] | None] = contextvars.ContextVar(
    "tamarco_reply_headers", default=None
)


def reply_received(headers: Mapping[str, Any] | None) -> None:
    """A transport's request got its answer with ``headers``: kept for the traced request waiting
    in this context (nothing otherwise)."""
    sink = _REPLY_HEADERS.get()
    if sink is not None and headers:
        sink.append(headers)


def trace_consumer(consumer: Any, tracing: Tracing, kind: str) -> None:
    """Make each delivery of ``consumer`` (its ``_handle_one(delivery)``, what ``Consumer.handle``
    calls per delivery) run in a CONSUMER span, when ``tracing`` is on."""
    if not tracing.enabled:
        return
    process: Callable[[Any], Awaitable[Any]] = consumer._handle_one
    system = messaging_system(kind)
    input_name = str(consumer.input.name)
    key_attribute = "messaging.kafka.message.key" if system == "kafka" else "messaging.rabbitmq.destination.routing_key"

    async def traced_process(delivery: Any) -> Any:
        source = delivery.source
        attributes: dict[str, Any] = {
            "messaging.system": system,
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": source,
            "messaging.message.body.size": len(delivery.body),
            "tamarco.messaging.input": input_name,
        }
        key = delivery.key
        if key is not None:
            attributes[key_attribute] = key if isinstance(key, str) else repr(key)
        if delivery.correlation_id:
            attributes["messaging.message.conversation_id"] = str(delivery.correlation_id)
        if delivery.redelivered:
            attributes["tamarco.messaging.redelivered"] = True
        position = delivery.position
        if system == "kafka" and isinstance(position, tuple) and len(position) == 2:
            attributes["messaging.destination.partition.id"] = str(position[0])
            attributes["messaging.kafka.offset"] = position[1]
        with tracing.span(f"process {source}", SpanKind.CONSUMER, attributes, headers=delivery.headers) as span:
            settlement = await process(delivery)
            if settlement is not None:
                outcome = getattr(settlement, "value", str(settlement))
                span.set_attribute("tamarco.messaging.settlement", outcome)
                if outcome in ("dead_lettered", "rejected"):
                    tracing.fail(span, f"message {outcome}")
            return settlement

    consumer._handle_one = traced_process


def _producer_attributes(system: str, output: Any, pattern: str, key: Any, size: int) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": system,
        "messaging.operation.type": "send",
        "messaging.operation.name": pattern,
        "messaging.destination.name": str(output.destination),
        "messaging.message.body.size": size,
    }
    if key is not None:
        name = "messaging.kafka.message.key" if system == "kafka" else "messaging.rabbitmq.destination.routing_key"
        attributes[name] = key if isinstance(key, str) else repr(key)
    return attributes


async def traced_send(
    tracing: Tracing,
    kind: str,
    send: Callable[..., Awaitable[None]],
    output: Any,
    pattern: str,
    body: bytes,
    *,
    key: Any = None,
    headers: Mapping[str, Any] | None = None,
) -> None:
    """``send(output, pattern, body, key=, headers=)`` in a PRODUCER span, its context in the headers."""
    attributes = _producer_attributes(messaging_system(kind), output, pattern, key, len(body))
    span = tracing.start_span(f"{pattern} {output.destination}", SpanKind.PRODUCER, attributes)
    carrier = dict(headers) if headers else {}
    tracing.inject(carrier, span)
    try:
        await send(output, pattern, body, key=key, headers=carrier)
    except Exception as error:
        tracing.fail(span, error)
        raise
    finally:
        span.end()


async def traced_enqueue(
    tracing: Tracing,
    kind: str,
    enqueue: Callable[..., Awaitable[None]],
    output: Any,
    body: bytes,
    *,
    key: Any = None,
    headers: Mapping[str, Any] | None = None,
) -> None:
    """``enqueue(output, body, key=, headers=)`` (fire and forget) in a PRODUCER span, which ends
    once the message is in the transport's buffer."""

    async def send(output: Any, pattern: str, body: bytes, *, key: Any, headers: Mapping[str, Any]) -> None:
        await enqueue(output, body, key=key, headers=headers)

    await traced_send(tracing, kind, send, output, "send", body, key=key, headers=headers)


async def traced_request(
    tracing: Tracing,
    kind: str,
    request: Callable[..., Awaitable[bytes]],
    output: Any,
    body: bytes,
    *,
    timeout: float,
    headers: Mapping[str, Any] | None = None,
) -> bytes:
    """``request(output, body, timeout=, headers=)`` in a PRODUCER span lasting until the answer."""
    attributes = _producer_attributes(messaging_system(kind), output, "request", None, len(body))
    span = tracing.start_span(f"request {output.destination}", SpanKind.PRODUCER, attributes)
    carrier = dict(headers) if headers else {}
    tracing.inject(carrier, span)
    replies: list[Mapping[str, Any]] = []
    token = _REPLY_HEADERS.set(replies)
    try:
        answer = await request(output, body, timeout=timeout, headers=carrier)
    except Exception as error:
        tracing.fail(span, error)
        raise
    finally:
        _REPLY_HEADERS.reset(token)
        for link in tracing.link(replies[0] if replies else None):
            span.add_link(link.context, {"tamarco.link": "reply"})
        span.end()
    return answer


#: The sending methods of a messaging resource that get a PRODUCER span, and their wrapper.
_SENDERS: dict[str, Callable[..., Awaitable[Any]]] = {
    "send": traced_send,
    "enqueue": traced_enqueue,
    "request": traced_request,
}


def trace_sender(resource: Any, tracing: Tracing, kind: str) -> None:
    """Give ``resource``'s ``send``, ``enqueue`` and ``request`` a PRODUCER span each when
    ``tracing`` is on (instance attributes over the methods, removed again at the next start
    when it is off): tracing off leaves the methods as they are, not even a check added."""
    for name in _SENDERS:
        resource.__dict__.pop(name, None)
    if not tracing.enabled:
        return
    for name, wrapper in _SENDERS.items():
        method = getattr(resource, name, None)
        if method is not None:
            setattr(resource, name, functools.partial(wrapper, tracing, kind, method))

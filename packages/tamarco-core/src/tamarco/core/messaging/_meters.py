"""The meters of messaging resources, recorded through :mod:`tamarco.core.instrumentation`
(no-ops unless tamarco-metrics is installed and the service exports meters: a resource of a
service without a metrics resource creates no series at all). Labels are bounded: transport
kind, resource name and input/output name — all fixed by the code, never by message contents."""

from __future__ import annotations

from typing import Any

from tamarco.core import instrumentation
from tamarco.core.instrumentation._noop import NOOP_BOUND

__all__ = ["InputMeters", "OutputMeters"]

_INPUT_LABELS = ("transport", "resource", "input")
_OUTPUT_LABELS = ("transport", "resource", "output")


class InputMeters:
    """Counters and the handler-duration summary of one input (bound children, created once)."""

    __slots__ = ("consumed", "dead_lettered", "duration", "failed", "retried")
    consumed: Any
    failed: Any
    retried: Any
    dead_lettered: Any
    duration: Any

    def __init__(self, transport: str, resource: str, input_name: str) -> None:
        if not instrumentation.enabled():
            self.consumed = self.failed = self.retried = self.dead_lettered = self.duration = NOOP_BOUND
            return
        labels = {"transport": transport, "resource": resource, "input": input_name}
        self.consumed = _counter("messages_consumed", labels)
        self.failed = _counter("messages_failed", labels)
        self.retried = _counter("messages_retried", labels)
        self.dead_lettered = _counter("messages_dead_lettered", labels)
        self.duration = instrumentation.summary("message_handler_duration", "seconds", labels=_INPUT_LABELS).labels(
            **labels
        )


class OutputMeters:
    """The published counter of one output."""

    __slots__ = ("failed", "published")
    published: Any
    failed: Any

    def __init__(self, transport: str, resource: str, output_name: str) -> None:
        if not instrumentation.enabled():
            self.published = self.failed = NOOP_BOUND
            return
        labels = {"transport": transport, "resource": resource, "output": output_name}
        self.published = instrumentation.counter("messages_published", "messages", labels=_OUTPUT_LABELS).labels(
            **labels
        )
        self.failed = instrumentation.counter("messages_publish_failed", "messages", labels=_OUTPUT_LABELS).labels(
            **labels
        )


def _counter(name: str, labels: dict[str, str]) -> Any:
    return instrumentation.counter(name, "messages", labels=_INPUT_LABELS).labels(**labels)

"""The meters of messaging resources, recorded through :mod:`tamarco.core.instrumentation`
(no-ops unless tamarco-metrics is installed). Labels are bounded: transport kind, resource name
and input/output name — all fixed by the code, never by message contents."""

from __future__ import annotations

from typing import Any

from tamarco.core import instrumentation

__all__ = ["InputMeters", "OutputMeters"]

_INPUT_LABELS = ("transport", "resource", "input")
_OUTPUT_LABELS = ("transport", "resource", "output")


class InputMeters:
    """Counters and the handler-duration summary of one input (bound children, created once)."""

    __slots__ = ("consumed", "dead_lettered", "duration", "failed", "retried")

    def __init__(self, transport: str, resource: str, input_name: str) -> None:
        labels = {"transport": transport, "resource": resource, "input": input_name}
        self.consumed: Any = _counter("messages_consumed", labels)
        self.failed: Any = _counter("messages_failed", labels)
        self.retried: Any = _counter("messages_retried", labels)
        self.dead_lettered: Any = _counter("messages_dead_lettered", labels)
        self.duration: Any = instrumentation.summary(
            "message_handler_duration", "seconds", labels=_INPUT_LABELS
        ).labels(**labels)


class OutputMeters:
    """The published counter of one output."""

    __slots__ = ("failed", "published")

    def __init__(self, transport: str, resource: str, output_name: str) -> None:
        labels = {"transport": transport, "resource": resource, "output": output_name}
        self.published: Any = instrumentation.counter("messages_published", "messages", labels=_OUTPUT_LABELS).labels(
            **labels
        )
        self.failed: Any = instrumentation.counter("messages_publish_failed", "messages", labels=_OUTPUT_LABELS).labels(
            **labels
        )


def _counter(name: str, labels: dict[str, str]) -> Any:
    return instrumentation.counter(name, "messages", labels=_INPUT_LABELS).labels(**labels)

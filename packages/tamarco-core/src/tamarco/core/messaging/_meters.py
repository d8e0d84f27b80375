"""The meters of messaging resources, recorded through :mod:`tamarco.core.instrumentation`
(no-ops unless tamarco-metrics is installed and the service exports meters: a resource of a
service without a metrics resource creates no series at all). Labels are bounded: transport
kind, resource name and input/output name — all fixed by the code, never by message contents."""

from __future__ import annotations

import time
from typing import Any

from tamarco.core import instrumentation
from tamarco.core.instrumentation._noop import NOOP_BOUND

__all__ = ["InputMeters", "OutputMeters"]

_INPUT_LABELS = ("transport", "resource", "input")
_OUTPUT_LABELS = ("transport", "resource", "output")


class InputMeters:
    """Counters and the handler-duration summary of one input (bound children, created once).

    The success path — by far the most frequent — costs one ``list.append`` and one clock
    comparison: handled messages' durations are applied to ``messages_consumed`` and
    ``message_handler_duration`` in batches (:meth:`flush`), at most :attr:`FLUSH_SECONDS` after
    they were recorded while messages keep coming, before every export of the meters (a collect
    hook of the service's scope), and when the consumer drains. Failures are counted at once.
    """

    #: Longest time a handled message's duration waits before a later message applies it.
    FLUSH_SECONDS = 1.0

    __slots__ = (
        "_flush_at",
        "_hooked",
        "consumed",
        "dead_lettered",
        "duration",
        "failed",
        "invalid",
        "pending",
        "retried",
    )
    consumed: Any
    failed: Any
    invalid: Any
    retried: Any
    dead_lettered: Any
    duration: Any

    def __init__(self, transport: str, resource: str, input_name: str) -> None:
        #: Durations (seconds) of handled messages not yet applied to the meters.
        self.pending: list[float] = []
        self._flush_at = time.perf_counter() + self.FLUSH_SECONDS
        self._hooked = False
        if not instrumentation.enabled():
            self.consumed = self.failed = self.invalid = self.retried = self.dead_lettered = self.duration = NOOP_BOUND
            self._flush_at = float("inf")
            return
        labels = {"transport": transport, "resource": resource, "input": input_name}
        self.consumed = _counter("messages_consumed", labels)
        self.failed = _counter("messages_failed", labels)
        #: Decoded but not valid against the handler's payload type (also counted as failed).
        self.invalid = _counter("messages_invalid", labels)
        self.retried = _counter("messages_retried", labels)
        self.dead_lettered = _counter("messages_dead_lettered", labels)
        self.duration = instrumentation.summary("message_handler_duration", "seconds", labels=_INPUT_LABELS).labels(
            **labels
        )
        instrumentation.add_collect_hook(self.flush)
        self._hooked = True

    @property
    def recording(self) -> bool:
        """Whether handled messages' durations are recorded (meters on): the consumer times a
        handler only then."""
        return self._hooked

    def handled(self, seconds: float) -> None:
        """Record one handled message (what the consumer's success path calls)."""
        if self._hooked:
            self.pending.append(seconds)
            if time.perf_counter() >= self._flush_at:
                self.flush()

    def flush(self) -> None:
        """Apply the pending durations (safe from an exporter's thread: appends made meanwhile
        stay for the next flush)."""
        self._flush_at = time.perf_counter() + self.FLUSH_SECONDS
        pending = self.pending
        size = len(pending)
        if size:
            batch = pending[:size]
            del pending[:size]
            self.consumed.inc(size)
            self.duration.observe_many(batch)

    def close(self) -> None:
        """Flush, and stop flushing before exports (the consumer stopped)."""
        self.flush()
        if self._hooked:
            instrumentation.remove_collect_hook(self.flush)
            self._hooked = False


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

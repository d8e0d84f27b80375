"""tamarco.core.instrumentation: checks in core, no-op without an implementation, entry point."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tamarco.core import instrumentation
from tamarco.core.instrumentation import _provider
from tamarco.core.instrumentation._noop import NOOP_BOUND, NoopProvider
from tamarco.core.logging.testing import capture_logs


@pytest.fixture
def no_implementation() -> Iterator[None]:
    instrumentation.set_provider(None)
    yield
    instrumentation.reset_provider()


class Recorded:
    def __init__(self, name: str, labels: dict[str, str]) -> None:
        self.name, self.labels = name, labels
        self.values: list[float] = []

    def inc(self, n: float = 1, /) -> None:
        self.values.append(n)

    def observe(self, value: float, /) -> None:
        self.values.append(value)


class RecordingProvider(NoopProvider):
    def __init__(self) -> None:
        self.bound: list[Recorded] = []

    def counter(self, name: str, unit: str, label_names: tuple[str, ...]) -> Any:
        def bind(labels: dict[str, str]) -> Recorded:
            self.bound.append(Recorded(name, labels))
            return self.bound[-1]

        return bind

    summary = counter


class FakeEntryPoint:
    def __init__(self, name: str, factory: Any) -> None:
        self.name, self.value, self.factory = name, f"fake:{name}", factory

    def load(self) -> Any:
        return self.factory


def test_the_public_names_are_exported() -> None:
    for name in ("counter", "gauge", "summary", "enabled", "add_collect_hook", "remove_collect_hook", "MeterProvider"):
        assert name in instrumentation.__all__ and hasattr(instrumentation, name)


def test_without_an_implementation_everything_records_into_one_shared_noop(no_implementation: None) -> None:
    consumed = instrumentation.counter("amqp_messages_consumed", "messages", labels=("resource", "queue"))
    bound = consumed.labels(resource="amqp", queue="cows")
    assert bound is NOOP_BOUND
    bound.inc()
    plain = instrumentation.counter("things", "things")
    plain.inc(3)
    assert plain.inc == NOOP_BOUND.inc  # the shared object's method itself: nothing in between
    duration = instrumentation.summary("handler_duration", "seconds", labels=("queue",))
    duration.labels(queue="cows").observe(0.01)
    duration.labels(queue="cows").observe_many([0.1, 0.2])
    lag = instrumentation.gauge("consumer_lag", "messages", labels=("partition",))
    assert lag.labels(partition=0) is NOOP_BOUND
    lag.labels(partition="0").set(5)
    assert instrumentation.enabled() is False
    instrumentation.add_collect_hook(lambda: None)
    instrumentation.remove_collect_hook(lambda: None)


def test_labels_are_declared_up_front_and_errors_name_the_meter_and_the_label(no_implementation: None) -> None:
    consumed = instrumentation.counter("consumed", "messages", labels=("resource", "queue"))
    with pytest.raises(ValueError, match="counter 'consumed' has no label 'topic'"):
        consumed.labels(resource="amqp", topic="cows")
    with pytest.raises(ValueError, match="counter 'consumed': labels\\(\\) needs a value for queue"):
        consumed.labels(resource="amqp")
    with pytest.raises(ValueError, match="counter 'consumed' declares labels \\(resource, queue\\)"):
        consumed.inc()
    with pytest.raises(ValueError, match="gauge 'lag' has no label 'x'"):
        instrumentation.gauge("lag", "messages").labels(x="1")
    with pytest.raises(ValueError, match="summary 'took' declares labels"):
        instrumentation.summary("took", "seconds", labels=("route",)).observe(1.0)
    with pytest.raises(ValueError, match="invalid meter name '9lives'"):
        instrumentation.counter("9lives", "things")
    with pytest.raises(ValueError, match="meter 'x': invalid label name 'a-b'"):
        instrumentation.counter("x", "things", labels=("a-b",))
    with pytest.raises(ValueError, match="meter 'x': label names repeated"):
        instrumentation.counter("x", "things", labels=("a", "a"))
    with pytest.raises(TypeError, match="meter 'x': labels must be a sequence of label names"):
        instrumentation.counter("x", "things", labels="queue")


def test_the_implementation_gets_every_label_as_a_string() -> None:
    provider = RecordingProvider()
    instrumentation.set_provider(provider)
    try:
        instrumentation.counter("codes", "responses", labels=("status",)).labels(status=404).inc(2)
        instrumentation.counter("plain", "things").inc()
    finally:
        instrumentation.reset_provider()
    assert [(r.name, r.labels, r.values) for r in provider.bound] == [
        ("codes", {"status": "404"}, [2]),
        ("plain", {}, [1]),
    ]


def test_the_entry_point_is_looked_up_once_at_the_first_instrument(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = RecordingProvider()
    lookups: list[str] = []

    def entry_points(group: str) -> list[FakeEntryPoint]:
        lookups.append(group)
        return [FakeEntryPoint("recording", lambda: provider)]

    monkeypatch.setattr(_provider, "entry_points", entry_points)
    instrumentation.reset_provider()
    try:
        assert lookups == []  # nothing at import or reset
        instrumentation.counter("first", "things").inc()
        instrumentation.counter("second", "things").inc()
        assert instrumentation.get_provider() is provider
    finally:
        instrumentation.reset_provider()
    assert lookups == ["tamarco.instrumentation"]
    assert [r.name for r in provider.bound] == ["first", "second"]


def test_an_implementation_that_fails_to_load_is_logged_and_nothing_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Any:
        raise RuntimeError("no backend")

    monkeypatch.setattr(_provider, "entry_points", lambda group: [FakeEntryPoint("broken", broken)])
    instrumentation.reset_provider()
    try:
        with capture_logs(loggers=["tamarco.instrumentation"]) as logs:
            assert instrumentation.counter("x", "things").labels() is not None
            assert instrumentation.get_provider() is _provider.NOOP_PROVIDER
    finally:
        instrumentation.reset_provider()
    assert any("broken = fake:broken failed to load" in record.message for record in logs)


def test_set_provider_refuses_what_is_not_a_provider() -> None:
    with pytest.raises(TypeError, match=r"does not implement tamarco\.core\.instrumentation\.MeterProvider"):
        instrumentation.set_provider(object())  # type: ignore[arg-type]

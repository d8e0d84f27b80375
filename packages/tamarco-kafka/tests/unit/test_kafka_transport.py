"""KafkaTransport without a broker: refused credentials, fire-and-forget failures, records as
deliveries."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, SaslAuthenticationFailed
from tamarco.core.messaging import AuthenticationError, NotConnectedError, SendTracker, Settlement
from tamarco.core.microservice import MicroserviceContext
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.kafka import KafkaConfig, KafkaDelivery, KafkaOutput, KafkaResource, KafkaTransport
from tamarco.resources.io.kafka._delivery import decode_headers, encode_headers

SECRET = "n0t-th1s-0ne"


async def test_refused_sasl_credentials_fail_at_once_without_the_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[dict[str, Any]] = []

    async def refusing(host: str, port: int, **kwargs: Any) -> Any:
        attempts.append(kwargs)
        raise SaslAuthenticationFailed("Authentication failed during authentication due to invalid credentials")

    monkeypatch.setattr("aiokafka.conn.create_conn", refusing)
    resource = KafkaResource(outputs=[KafkaOutput("metrics")])
    context = type("Ctx", (MicroserviceContext,), {"name": "sasl_test", "kafka": resource})(environ={})
    context.settings.update_internal(
        {
            "system": {
                "resources": {
                    "kafka": {
                        "bootstrap_servers": "127.0.0.1:1",
                        "sasl": {"mechanism": "SCRAM-SHA-256", "username": "bob", "password": SECRET},
                        "connection_timeout": 5,
                    }
                }
            }
        }
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception, match=r"refused the credentials of user 'bob' \(SCRAM-SHA-256") as error:
        async with context:
            pass
    assert len(attempts) == 1, "not retried"
    assert attempts[0]["sasl_plain_password"] == SECRET, "the password went to the broker"
    assert resource.status_code in (StatusCodes.FAILED, StatusCodes.STOPPED)
    assert isinstance(error.value.__cause__, AuthenticationError)
    assert "refused the credentials of user 'bob'" in str(resource.last_error)
    status = await resource.status()
    for text in (str(error.value), repr(error.value.__cause__), caplog.text, repr(status)):
        assert SECRET not in text


class FakeProducer:
    """Takes messages into a batch; the test settles their futures."""

    def __init__(self) -> None:
        self.futures: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, value: bytes, key: Any = None, headers: Any = None) -> asyncio.Future[Any]:
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


async def test_a_failed_fire_and_forget_send_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    output = KafkaOutput("metrics")
    resource = KafkaResource(outputs=[output])
    transport = KafkaTransport(KafkaConfig(), resource_name="kafka")
    producer = FakeProducer()
    transport.producer = producer  # type: ignore[assignment]
    resource.transport = transport
    resource.set_status(StatusCodes.STARTED)
    await output.send({"n": 1})
    await output.send({"n": 2}, key="k", headers={"h": 1})
    assert len(producer.futures) == 2, "send returns before the broker answered"
    producer.futures[0].set_result(SimpleNamespace(offset=0))
    producer.futures[1].set_exception(KafkaTimeoutError())
    await asyncio.sleep(0)
    assert transport.send_failures == 0, "counted when swept (status, health checks, close)"
    assert (await resource.status())["send_failures"] == 1
    assert transport.send_failures == 1
    assert "a message sent to topic 'metrics' was not delivered" in caplog.text


async def test_sends_take_the_outputs_lane_until_the_producer_changes_and_not_under_tracing() -> None:
    first, second = KafkaOutput("metrics"), KafkaOutput("logs")
    resource = KafkaResource(outputs=[first, second])
    transport = KafkaTransport(KafkaConfig(), resource_name="kafka")
    producer = FakeProducer()
    transport.producer = producer  # type: ignore[assignment]
    resource.transport = transport
    resource.set_status(StatusCodes.STARTED)
    await first.send({"n": 1})
    lane = resource.lane(first)
    assert lane is not None and lane.topic == "metrics" and resource.lane(first) is lane, "built once"
    assert len(producer.futures) == 1
    reconnected = FakeProducer()
    transport.producer = reconnected  # type: ignore[assignment]
    await first.send({"n": 2})
    assert len(reconnected.futures) == 1 and resource.lane(first) is not lane, "a new producer, a new lane"
    traced: list[str] = []
    original = resource.enqueue

    async def tracing_enqueue(output: Any, body: bytes, **kwargs: Any) -> None:
        traced.append(output.destination)
        await original(output, body, **kwargs)

    resource.enqueue = tracing_enqueue  # type: ignore[method-assign]
    await second.send({"n": 3})
    assert traced == ["logs"] and len(reconnected.futures) == 2, "a wrapped enqueue runs (tracing)"
    resource.set_status(StatusCodes.STOPPED)
    assert resource.lane(first) is None
    with pytest.raises(NotConnectedError):
        await first.send({"n": 4})


async def test_a_sweep_counts_each_outputs_answers_and_each_failure() -> None:
    transport = KafkaTransport(KafkaConfig(), resource_name="kafka")
    counts: dict[str, int] = {"a": 0, "b": 0, "a failed": 0}

    def count(key: str) -> Any:
        return lambda n=1: counts.__setitem__(key, counts[key] + n)

    a = SendTracker("a", count("a"), count("a failed"))
    b = SendTracker("b", count("b"), None)
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(6)]
    for future, tracker in zip(futures, (a, a, b, a, b, a), strict=True):
        transport.track(future, tracker)
    for n, future in enumerate(futures[:5]):
        if n == 3:
            future.set_exception(KafkaTimeoutError())
        else:
            future.set_result(None)
    transport.sweep_sends()
    assert counts == {"a": 2, "b": 2, "a failed": 1}, "the unanswered sixth is not counted yet"
    assert transport.send_failures == 1
    futures[5].set_result(None)
    transport.sweep_sends()
    assert counts["a"] == 3


def record(**overrides: Any) -> Any:
    values = {
        "topic": "metrics",
        "partition": 2,
        "offset": 41,
        "key": b"cow",
        "value": b'{"a":1}',
        "headers": [("trace", b"abc"), ("raw", b"\xff")],
    }
    values.update(overrides)
    return SimpleNamespace(**values)


async def test_a_record_as_a_delivery() -> None:
    delivery = KafkaDelivery(record())
    assert (delivery.source, delivery.position, delivery.key, delivery.body) == ("metrics", (2, 41), "cow", b'{"a":1}')
    assert delivery.headers == {"trace": "abc", "raw": b"\xff"}
    assert delivery.redelivered is False and delivery.reply_to is None
    await delivery.nack(requeue=True)
    await delivery.ack()
    assert delivery.outcome is Settlement.REQUEUED, "the first settlement counts"
    tombstone = KafkaDelivery(record(value=None, key=None, headers=()))
    assert tombstone.body == b"" and tombstone.key is None and tombstone.headers == {}


def test_headers_round_trip_as_text() -> None:
    encoded = encode_headers({"attempts": 3, "error": "boom", "raw": b"\x00", "none": None})
    assert encoded == [("attempts", b"3"), ("error", b"boom"), ("raw", b"\x00"), ("none", b"")]
    assert decode_headers(encoded) == {"attempts": "3", "error": "boom", "raw": "\x00", "none": ""}
    assert encode_headers(None) is None and encode_headers({}) is None

"""KafkaResource against the harness broker: codecs in both forms, dead-letter topics, bad
input, status, lag, fire-and-forget sends and reconnection."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from aiokafka.errors import TopicAlreadyExistsError
from tamarco.codecs import JsonCodec
from tamarco.core import instrumentation
from tamarco.core.instrumentation._noop import NoopProvider
from tamarco.core.messaging import Message, PublishError
from tamarco.core.microservice import MicroserviceContext
from tamarco.harness import KafkaService
from tamarco.harness.messaging_suite import FAST_RETRY, ReversedCodec, running, wait_until
from tamarco.resources.bases import StatusCodes
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource

pytestmark = pytest.mark.functional


async def test_json_and_a_custom_codec_each_through_a_decorated_handler_and_async_for(
    kafka_case: Any, unique_name: str
) -> None:
    topics = {form: f"{unique_name}-{form}" for form in ("dec-json", "dec-custom", "iter-json", "iter-custom")}
    await kafka_case.create_topics(*topics.values())
    decorated: dict[str, list[Any]] = {"json": [], "custom": []}

    class Service(MicroserviceContext):
        name = "kafka_codecs"
        kafka = KafkaResource(
            outputs=[
                KafkaOutput(topics["dec-json"], codec=JsonCodec),
                KafkaOutput(topics["dec-custom"], codec=ReversedCodec),
                KafkaOutput(topics["iter-json"], codec=JsonCodec),
                KafkaOutput(topics["iter-custom"], codec=ReversedCodec),
            ]
        )
        stream_json = KafkaInput(topic=topics["iter-json"], codec=JsonCodec)
        stream_custom = KafkaInput(topic=topics["iter-custom"], codec=ReversedCodec)

        @KafkaInput(resource=kafka, topic=topics["dec-json"], codec=JsonCodec)
        async def handle_json(self, message: Any) -> None:
            decorated["json"].append(message)

        @KafkaInput(resource=kafka, topic=topics["dec-custom"], codec=ReversedCodec)
        async def handle_custom(self, message: Any) -> None:
            decorated["custom"].append(message)

    Service.kafka.add_input(Service.stream_json)
    Service.kafka.add_input(Service.stream_custom)
    service = Service(environ={})
    service.settings.update_internal({"system": {"resources": {"kafka": kafka_case.settings()}}})
    async with service:
        outputs = service.kafka.outputs
        await outputs[topics["dec-json"]].push({"cow": "MOOOO"})
        await outputs[topics["dec-custom"]].push("moo")
        await outputs[topics["iter-json"]].push({"cat": "MEOW"})
        await outputs[topics["iter-custom"]].push("meow")
        streamed_json = await asyncio.wait_for(service.stream_json.__anext__(), 20)
        streamed_custom = await asyncio.wait_for(service.stream_custom.__anext__(), 20)
        await wait_until(lambda: decorated == {"json": [{"cow": "MOOOO"}], "custom": ["moo"]}, what="both handlers")
    assert (streamed_json, streamed_custom) == ({"cat": "MEOW"}, "meow")
    assert (await kafka_case.read(topics["dec-custom"], 1))[0].value == b"oom", "the output's codec encoded it"
    assert (await kafka_case.read(topics["iter-json"], 1))[0].value == b'{"cat":"MEOW"}'


async def test_retries_then_the_dead_letter_topic_with_the_error_key_and_position(
    kafka_case: Any, unique_name: str
) -> None:
    topic = unique_name
    await kafka_case.prepare(topic)
    attempts: list[int] = []

    async def broken(message: Message) -> None:
        attempts.append(message.attempt)
        raise KeyError("no such cow")

    output = KafkaOutput(topic)
    resource = KafkaResource([KafkaInput(topic, group_id=f"{topic}.g", on_message=broken, retry=FAST_RETRY)], [output])
    async with running(kafka_case, resource):
        await output.push({"cow": 1}, key="cow-1", headers={"trace": "t-1"})
        (letter,) = await kafka_case.read(f"{topic}.dlq", 1)
        await wait_until(lambda: resource.consumers[topic].dead_lettered == 1, what="dead-letter counted")
    assert attempts == [1, 2, 3]
    headers = {name: value.decode() for name, value in letter.headers}
    assert letter.key == b"cow-1" and letter.value == b'{"cow":1}'
    assert headers["trace"] == "t-1"
    assert headers["x-tamarco-error-type"] == "KeyError" and "no such cow" in headers["x-tamarco-error"]
    assert headers["x-tamarco-attempts"] == "3" and headers["x-tamarco-source"] == topic
    assert (headers["x-tamarco-partition"], headers["x-tamarco-offset"]) == ("0", "0")


async def test_unreachable_bootstrap_servers_connecting_then_failed_naming_them(
    kafka_case: Any, free_port: int
) -> None:
    address = f"127.0.0.1:{free_port}"
    resource = KafkaResource(outputs=[KafkaOutput("anything")])
    seen: list[str] = []
    resource.add_status_listener(lambda _resource, _old, new: seen.append(new.name))
    with pytest.raises(Exception, match=rf"cannot connect to {address} within 1 s"):
        async with running(kafka_case, resource, {"bootstrap_servers": address, "connection_timeout": 1}):
            pass
    assert seen[:2] == ["CONNECTING", "FAILED"]
    assert address in str(resource.last_error)


async def test_a_missing_topic_with_auto_create_off_fails_naming_it(kafka_case: Any, unique_name: str) -> None:
    missing = f"{unique_name}-missing"
    resource = KafkaResource([KafkaInput(missing, group_id="g")])
    with pytest.raises(Exception, match=rf"topic\(s\) '{missing}' do not exist .*auto_create_topics is false"):
        async with running(kafka_case, resource, {"auto_create_topics": False, "connection_timeout": 1}):
            pass
    assert resource.status_code in (StatusCodes.FAILED, StatusCodes.STOPPED)
    assert missing in str(resource.last_error)


async def test_a_message_over_max_request_size_is_a_clear_error_to_the_caller(
    kafka_case: Any, unique_name: str
) -> None:
    await kafka_case.create_topics(unique_name)
    output = KafkaOutput(unique_name)
    resource = KafkaResource(outputs=[output])
    async with running(kafka_case, resource, {"producer": {"max_request_size": 10_000}}):
        with pytest.raises(PublishError, match=rf"bytes to topic '{unique_name}' is over .*max_request_size \(10000"):
            await output.push("x" * 20_000)
        with pytest.raises(PublishError, match=r"producer\.max_request_size"):
            await output.send("x" * 20_000)
        pushed = output.push("small")  # the resource still works
        assert isinstance(pushed, asyncio.Future), "connected: the broker's answer itself, no coroutine"
        assert await pushed is None
    assert (await kafka_case.read(unique_name, 1))[0].value == b'"small"'


class GaugeRecorder(NoopProvider):
    """An instrumentation implementation keeping the last value of every gauge child."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def gauge(self, name: str, unit: str, label_names: tuple[str, ...]) -> Any:
        recorder = self

        class Bound:
            def __init__(self, labels: dict[str, str]) -> None:
                self.key = (name, tuple(sorted(labels.items())))

            def set(self, value: float) -> None:
                recorder.values[self.key] = value

            def inc(self, n: float = 1) -> None:
                recorder.values[self.key] = recorder.values.get(self.key, 0) + n

            def dec(self, n: float = 1) -> None:
                self.inc(-n)

        return Bound


async def test_status_and_lag_gauge_show_group_partitions_and_lag(kafka_case: Any, unique_name: str) -> None:
    topic = unique_name
    await kafka_case.create_topics(topic, partitions=2)
    recorder = GaugeRecorder()
    instrumentation.set_provider(recorder)
    gate = asyncio.Event()
    handled: list[Any] = []

    async def slow(body: Any) -> None:
        await gate.wait()
        handled.append(body)

    output = KafkaOutput(topic)
    resource = KafkaResource([KafkaInput(topic, group_id=f"{topic}.g", on_message=slow, max_concurrency=1)], [output])
    try:
        async with running(kafka_case, resource):
            for n in range(10):
                await output.push(n, key=f"k{n}")
            lag_key = "kafka_consumer_lag"

            def total_lag() -> float:
                return sum(v for (name, _), v in recorder.values.items() if name == lag_key)

            await wait_until(lambda: total_lag() >= 9, what="a lag of the 9 waiting messages")
            status = await resource.status()
            gate.set()
            await wait_until(lambda: len(handled) == 10, what="all handled")
            await wait_until(lambda: total_lag() == 0, what="the lag back to 0")
    finally:
        instrumentation.reset_provider()
    labels = {dict(labels)["partition"] for name, labels in recorder.values if name == "kafka_consumer_lag"}
    assert labels == {"0", "1"}
    broker = status["broker"]
    assert broker["address"] == kafka_case.bootstrap_servers
    info = status["inputs"][topic]
    assert info["group"] == f"{topic}.g"
    assert set(info["partitions"]) == {f"{topic}[0]", f"{topic}[1]"}
    assert sum(p["lag"] or 0 for p in info["partitions"].values()) >= 9
    assert "password" not in repr(status)


async def test_send_is_batched_fire_and_forget_and_every_message_arrives(kafka_case: Any, unique_name: str) -> None:
    topic = unique_name
    await kafka_case.create_topics(topic)
    got: list[Any] = []

    async def handler(body: Any) -> None:
        got.append(body)

    output = KafkaOutput(topic)
    resource = KafkaResource([KafkaInput(topic, group_id=f"{topic}.g", on_message=handler)], [output])
    async with running(kafka_case, resource, {"producer": {"linger_ms": 20}}):
        for n in range(500):
            await output.send(n)
        await wait_until(lambda: len(got) == 500, what="500 sent messages handled")
        status = await resource.status()
    assert got == list(range(500)), "one partition: in order"
    assert status["send_failures"] == 0


async def test_broker_loss_makes_the_resource_connecting_and_its_return_started(
    tamarco_harness: Any, make_kafka_case: Any, unique_name: str
) -> None:
    broker = KafkaService(backend=tamarco_harness.backend)  # our own: this test kills it
    await asyncio.to_thread(broker.start)
    try:
        case = make_kafka_case(broker.bootstrap_servers)
        topic = unique_name
        await case.create_topics(topic)
        got: list[Any] = []

        async def handler(body: Any) -> None:
            got.append(body)

        output = KafkaOutput(topic)
        resource = KafkaResource([KafkaInput(topic, group_id=f"{topic}.g", on_message=handler)], [output])
        seen: list[str] = []
        resource.add_status_listener(lambda _resource, _old, new: seen.append(new.name))
        async with running(case, resource, {"health_check_interval_seconds": 0.2}):
            await output.push("before")
            await wait_until(lambda: got == ["before"], what="a message before the loss")
            await asyncio.to_thread(broker.kill)
            await wait_until(lambda: resource.status_code == StatusCodes.CONNECTING, what="CONNECTING after the loss")
            await asyncio.to_thread(broker.start)  # memory storage: the topic and the group are gone
            with contextlib.suppress(TopicAlreadyExistsError):
                await case.create_topics(topic)
            await wait_until(lambda: resource.status_code == StatusCodes.STARTED, what="STARTED after the return")
            # tansu's memory storage restarts the log at offset 0 while the group may keep the
            # offset 1 committed on rejoining (a real broker keeps its log): push two.
            await output.push("after-1")
            await output.push("after-2")
            await wait_until(lambda: "after-2" in got, what="a message after the return")
        assert seen[:4] == ["CONNECTING", "STARTED", "CONNECTING", "STARTED"]
    finally:
        await asyncio.to_thread(broker.close)


async def test_a_stop_after_the_broker_was_lost_finishes_in_bounded_time(
    tamarco_harness: Any, make_kafka_case: Any, unique_name: str
) -> None:
    broker = KafkaService(backend=tamarco_harness.backend)  # our own: this test kills it
    await asyncio.to_thread(broker.start)
    try:
        case = make_kafka_case(broker.bootstrap_servers)
        await case.create_topics(unique_name)
        got: list[Any] = []

        async def handler(body: Any) -> None:
            got.append(body)

        output = KafkaOutput(unique_name)
        resource = KafkaResource([KafkaInput(unique_name, group_id="g", on_message=handler)], [output])
        loop = asyncio.get_running_loop()
        async with running(case, resource, {"health_check_interval_seconds": 0.2}):
            await output.push(1)
            await wait_until(lambda: got == [1], what="one message")
            for n in range(100):
                await output.send(n)  # some still in the producer's batches
            await asyncio.to_thread(broker.kill)
            stopping = loop.time()
        took = loop.time() - stopping
        # Commit, flush and close are each bounded (5 s, 5 s, 1 s): well inside the 30 s shutdown.
        assert resource.status_code == StatusCodes.STOPPED
        assert took < 20, f"the stop took {took:.1f} s"
    finally:
        await asyncio.to_thread(broker.close)

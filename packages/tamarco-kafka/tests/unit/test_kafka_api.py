"""The public surface: exports, the 0.1 module paths, and the aiokafka internals relied on."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys

import pytest
import tamarco.resources.io.kafka as kafka
from tamarco.core.messaging import MessageInput, MessageOutput, MessagingResource
from tamarco.resources.io.kafka import KafkaInput, KafkaOutput, KafkaResource


def test_leaf_package_shares_the_namespace_with_core() -> None:
    assert kafka.__file__ is not None and kafka.__file__.endswith("tamarco/resources/io/kafka/__init__.py")
    assert importlib.import_module("tamarco.core.microservice").Microservice.__name__ == "Microservice"


def test_every_export_exists_and_private_modules_stay_private() -> None:
    for name in kafka.__all__:
        assert hasattr(kafka, name), name
    assert not [name for name in kafka.__all__ if name.startswith("_")]


def test_the_0_1_module_paths_import() -> None:
    assert importlib.import_module("tamarco.resources.io.kafka.input").KafkaInput is KafkaInput
    assert importlib.import_module("tamarco.resources.io.kafka.output").KafkaOutput is KafkaOutput
    assert importlib.import_module("tamarco.resources.io.kafka.resource").KafkaResource is KafkaResource


def test_the_0_1_tamarco_kafka_modules_give_the_same_classes_and_name_the_new_path() -> None:
    for module in ("resource", "input", "output"):
        sys.modules.pop(f"tamarco_kafka.{module}", None)
    with pytest.warns(
        DeprecationWarning,
        match=r"tamarco_kafka\.input is deprecated: import from tamarco\.resources\.io\.kafka\.input",
    ) as caught:
        from tamarco_kafka.input import KafkaInput as Input
    assert caught[0].filename == __file__  # the warning points at the importing line
    with pytest.warns(DeprecationWarning, match=r"import from tamarco\.resources\.io\.kafka\.output"):
        from tamarco_kafka.output import KafkaOutput as Output
    with pytest.warns(DeprecationWarning, match=r"import from tamarco\.resources\.io\.kafka\.resource"):
        from tamarco_kafka.resource import KafkaResource as Resource
    assert (Input, Output, Resource) == (KafkaInput, KafkaOutput, KafkaResource)


def test_kafka_input_is_a_pull_input_with_a_group() -> None:
    input_ = KafkaInput(topic="metrics")
    assert isinstance(input_, MessageInput) and input_.pattern == "pull"
    assert input_.group_id is None and input_.source == "metrics" and input_.name == "metrics"
    assert input_.dead_letter_topic_for("metrics") == "metrics.dlq"
    several = KafkaInput(topics=["a", "b"], group_id="g", dead_letter_topic="failed")
    assert several.topics == ("a", "b") and several.source == "a,b" and several.dead_letter_topic_for("a") == "failed"
    pattern = KafkaInput(topic_pattern=r"metrics\..*")
    assert pattern.topics == () and pattern.topic_pattern == r"metrics\..*"
    assert pattern.pattern == "pull"  # the input pattern; the topic regex is topic_pattern


def test_a_core_input_is_refused_by_a_kafka_resource_naming_it() -> None:
    from tamarco.core.messaging import MessagingSettingsError, PullInput, SubscriptionInput

    with pytest.raises(
        MessagingSettingsError,
        match="KafkaResource: input 'metrics' is a PullInput; this resource consumes KafkaInput inputs only",
    ):
        KafkaResource(inputs=[PullInput("metrics")])
    kafka = KafkaResource()
    with pytest.raises(
        MessagingSettingsError, match=r"input 'events' is a SubscriptionInput; .* declare it as a KafkaInput"
    ):
        SubscriptionInput("events", resource=kafka)
    assert kafka.inputs == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of topic, topics or topic_pattern"),
        ({"topic": "a", "topic_pattern": "b"}, "exactly one of topic, topics or topic_pattern"),
        ({"topics": "ab"}, "topics must be a list"),
        ({"topic_pattern": "("}, "not a regular expression"),
        ({"topic": "a", "group_id": ""}, "group_id must be a non-empty string"),
    ],
)
def test_kafka_input_refuses_bad_arguments_by_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaInput(**kwargs)  # type: ignore[arg-type]


def test_kafka_output_and_resource_build_on_the_seam() -> None:
    output = KafkaOutput(topic="metrics")
    assert isinstance(output, MessageOutput) and output.topic == "metrics"
    resource = KafkaResource(outputs=[output])
    assert isinstance(resource, MessagingResource) and resource.outputs["metrics"] is output
    assert KafkaResource.transport_kind == "kafka"


def test_aiokafka_internals_used_are_there() -> None:
    """tamarco-kafka uses these below aiokafka's documented surface: a release that changes
    them fails here, by name."""
    from aiokafka.conn import create_conn
    from aiokafka.protocol.metadata import MetadataRequest

    parameters = inspect.signature(create_conn).parameters
    for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password", "ssl_context", "security_protocol"):
        assert name in parameters, f"aiokafka.conn.create_conn lost {name}"
    assert "allow_auto_topic_creation" in inspect.signature(MetadataRequest).parameters
    from aiokafka.client import AIOKafkaClient

    for method in ("send", "get_random_node", "fetch_all_metadata"):
        assert callable(getattr(AIOKafkaClient, method, None)), f"AIOKafkaClient.{method}"


async def test_aiokafka_batch_internals_the_appender_reads_are_there() -> None:
    """The appender answers a batch's messages from the batch's future (``_appender``):
    ``producer._message_accumulator._batches`` (deques of ``MessageBatch`` by partition), a
    batch's ``future`` and its ``_msg_futures`` (message future, metadata), and a batch's
    future settled before its messages' futures, in one go, and alike (a success or one error)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaTimeoutError
    from aiokafka.structs import TopicPartition
    from tamarco.resources.io.kafka._appender import _open_batches

    producer = AIOKafkaProducer(bootstrap_servers="localhost:1")
    try:
        batches = _open_batches(producer)
        assert batches is not None, "AIOKafkaProducer._message_accumulator._batches"
        partition = TopicPartition("t", 0)
        accumulator = producer._message_accumulator
        future = await accumulator.add_message(partition, None, b"x", 1.0)
        batch = batches[partition][-1]
        assert batch._msg_futures[-1][0] is future, "MessageBatch._msg_futures: (message future, metadata)"
        settled: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        batch.future.add_done_callback(lambda _: settled.set_result(future.done()))
        accumulator._pop_batch(partition).done(base_offset=0, timestamp=-1)
        assert await settled, "a batch's messages are answered when its future's callbacks run"
        assert batch.future.exception() is None and future.result().offset == 0, "answered alike: done"
        failed = await accumulator.add_message(partition, None, b"y", 1.0)
        batch = batches[partition][-1]
        accumulator._pop_batch(partition).failure(KafkaTimeoutError())
        assert isinstance(batch.future.exception(), KafkaTimeoutError), "answered alike: failure"
        assert isinstance(failed.exception(), KafkaTimeoutError)
    finally:
        await producer.stop()


@pytest.mark.parametrize(("given", "used"), [("smallest", "earliest"), ("largest", "latest"), ("latest", "latest")])
def test_the_0_1_offset_reset_argument_is_the_consumers_auto_offset_reset(given: str, used: str) -> None:
    resource = KafkaResource(offset_reset=given)
    transport = resource.create_transport()
    assert isinstance(transport, kafka.KafkaTransport)
    assert transport.config.auto_offset_reset == used
    assert KafkaResource().create_transport().config.auto_offset_reset == "earliest"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="offset_reset must be one of smallest, earliest, largest, latest, got 'end'"):
        KafkaResource(offset_reset="end")


def test_unknown_keyword_arguments_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="KafkaResource\\(\\) got unexpected argument\\(s\\): ofset_reset"):
        KafkaResource(ofset_reset="smallest")
    with pytest.raises(TypeError, match="unexpected keyword argument 'grup_id'"):
        KafkaInput(topic="metrics", grup_id="g")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'topik'"):
        KafkaOutput(topic="metrics", topik="m")  # type: ignore[call-arg]


def test_a_synchronous_handler_is_refused_at_class_definition() -> None:
    """0.1's Kafka input ran plain functions (blocking the loop); now the class body fails."""
    from tamarco.core.microservice import Microservice

    with pytest.raises(TypeError, match=r"input metrics: the handler .*pull must be an async function \(async def\)"):

        class Service(Microservice):
            kafka = KafkaResource()

            @KafkaInput(resource=kafka, topic="metrics")  # type: ignore[arg-type]
            def pull(self, message: object) -> None:
                pass

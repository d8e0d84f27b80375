"""A Kafka-protocol broker: tansu locally, Apache Kafka in docker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import _binaries
from ._errors import HarnessError
from ._probes import kafka_api_versions
from ._process import ProcessSpec
from ._service import ContainerSpec, Service

KAFKA_IMAGE = "apache/kafka:3.8.1"
T = TypeVar("T")


def run_coroutine_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a fresh event loop in a helper thread and return its result.

    Fixtures are synchronous and may run while a test's event loop is running, so they
    cannot use ``asyncio.run`` in the calling thread.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="tamarco-harness-kafka-admin")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


class KafkaService(Service):
    """A broker speaking the Kafka protocol at ``bootstrap_servers``.

    Locally this is tansu (memory storage: data does not survive ``restart()``). Consumer
    groups join in about session_timeout/2: tests should use ``session_timeout_ms=1000,
    heartbeat_interval_ms=200, rebalance_timeout_ms=1000``. Idempotent/transactional
    producers, ``delete_records`` and ``create_partitions`` are not supported by tansu.
    """

    kind = "kafka"
    port_names = ("kafka",)
    start_timeout = 60.0

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap_servers}"

    def env(self) -> dict[str, str]:
        return {
            "TAMARCO_KAFKA_HOST": self.host,
            "TAMARCO_KAFKA_PORT": str(self.port),
            "TAMARCO_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
        }

    def is_ready(self) -> bool:
        return kafka_api_versions(self.host, self.port)

    def local_processes(self) -> list[ProcessSpec]:
        listener = f"tcp://{self.host}:{self.port}"
        argv = [
            _binaries.find_binary(_binaries.TANSU),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        # tansu also reads its options from variables such as LISTENER_URL: do not inherit.
        return [ProcessSpec("tansu", argv, inherit_env=False, env={"RUST_LOG": "warn"})]

    def docker_container(self) -> ContainerSpec:
        env = {
            "CLUSTER_ID": "MkU3OEVBNTcwNTJENDM2Qk",
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{self.host}:{self.port}",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            # The timings the harness recommends for tests (session_timeout_ms=1000) are below
            # Apache Kafka's default minimum (6000): allow them.
            "KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS": "500",
            "KAFKA_NUM_PARTITIONS": "1",
        }
        return ContainerSpec(image=KAFKA_IMAGE, env=env, ports={9092: self.port})

    # -- topics --------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create topic ``name`` (needs ``aiokafka``)."""
        admin_module = _import_aiokafka_admin()

        async def create() -> None:
            admin = admin_module.AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
            await admin.start()
            try:
                topic = admin_module.NewTopic(name, partitions, replication_factor=1)
                await admin.create_topics([topic])
            finally:
                await admin.close()

        run_coroutine_in_thread(create())

    def delete_topic(self, name: str) -> None:
        """Delete topic ``name`` (needs ``aiokafka``)."""
        admin_module = _import_aiokafka_admin()

        async def delete() -> None:
            admin = admin_module.AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
            await admin.start()
            try:
                await admin.delete_topics([name])
            finally:
                await admin.close()

        run_coroutine_in_thread(delete())


def _import_aiokafka_admin() -> Any:
    try:
        import aiokafka.admin
    except ImportError as exc:
        raise HarnessError("kafka: creating topics needs aiokafka: pip install 'tamarco-harness[clients]'") from exc
    return aiokafka.admin

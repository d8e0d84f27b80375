"""pytest plugin (entry point ``pytest11: tamarco_harness``).

Session fixtures, one per service, each yielding a started service object:
``etcd_service``, ``rabbitmq_service``, ``kafka_service``, ``kafka_durable_service`` (a
broker whose log survives ``restart()``), ``redis_service``,
``prometheus_service``, ``carbon_service``, ``logstash_service``; ``etcd_cluster_service``
(three etcd members; function scope: members an earlier test killed are started again); and
``tamarco_harness``, the :class:`~tamarco.harness.Harness` behind them.

The backend: ``--harness-backend``, else ``TAMARCO_HARNESS_BACKEND``, else the ini option
``harness_backend``, else ``auto``. Images of the docker backend: ``TAMARCO_HARNESS_IMAGE_<NAME>``,
else the ini option ``harness_image_<name>``, else the upstream image. A test (module, class)
marked ``@pytest.mark.harness_backends("local", "docker")`` runs once per backend, its service
fixtures from a harness of that backend (ids ``[local]``, ``[docker]``); the docker run is
skipped when no engine answers, or fails with ``--harness-require-docker`` /
``TAMARCO_HARNESS_REQUIRE_DOCKER=1``. The report header and the summary say which backend
(and which image) each service used.

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

import contextlib
import os
import re
import signal
import threading
import uuid
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from ._backend import check_docker, docker_available
from ._carbon import CarbonService
from ._errors import DockerUnavailableError, HarnessError
from ._etcd import EtcdService
from ._etcd_cluster import EtcdClusterService
from ._harness import SERVICE_NAMES, Harness
from ._images import image_variable
from ._kafka import DurableKafkaService, KafkaService
from ._logstash import LogstashService
from ._otlp import OTLPCollectorService
from ._ports import free_port as _free_port
from ._prometheus import PrometheusService
from ._rabbitmq import RabbitMQService
from ._redis import RedisService

_HARNESS_KEY = pytest.StashKey[Harness]()
#: The harnesses of ``harness_backends`` runs, by backend (besides the session's own).
_BACKEND_HARNESSES_KEY = pytest.StashKey[dict[str, Harness]]()
_BACKEND_PARAMETER = "tamarco_harness_backend"
REQUIRE_DOCKER_VARIABLE = "TAMARCO_HARNESS_REQUIRE_DOCKER"
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
    group.addoption(
        "--harness-require-docker",
        action="store_true",
        default=None,
        help=f"fail (not skip) the docker runs of harness_backends tests when no engine answers "
        f"(also ${REQUIRE_DOCKER_VARIABLE}=1)",
    )
    parser.addini("harness_backend", "default backend of the tamarco harness (local, docker, auto)", default="")
    for name in SERVICE_NAMES:
        parser.addini(
            f"harness_image_{name}",
            f"docker image of the harness's {name} (${image_variable(name)} wins over it)",
            default="",
        )


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _new_harness(config: pytest.Config, backend: str | None) -> Harness:
    images = {name: str(config.getini(f"harness_image_{name}")) for name in SERVICE_NAMES}
    default = str(config.getini("harness_backend")) or None
    return Harness(backend, images={k: v for k, v in images.items() if v}, default_backend=default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "harness_backends(*backends): run the test once per tamarco-harness backend ('local', 'docker'), "
        "its service fixtures from that backend",
    )
    config.stash[_HARNESS_KEY] = _new_harness(config, config.getoption("--harness-backend"))
    config.stash[_BACKEND_HARNESSES_KEY] = {}
    # A CI runner cancelling the job sends SIGTERM, which would end pytest without
    # running atexit handlers: treat it as Ctrl-C, so the session ends and cleans up.
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("harness_backends")
    if marker is None or _BACKEND_PARAMETER not in metafunc.fixturenames:
        return
    backends = tuple(marker.args) or ("local", "docker")
    unknown = set(backends) - {"local", "docker"}
    if unknown:
        raise pytest.UsageError(f"harness_backends({', '.join(map(repr, backends))}): unknown {sorted(unknown)}")
    metafunc.parametrize(_BACKEND_PARAMETER, backends, indirect=True, scope="session")


def _require_docker(config: pytest.Config) -> bool:
    option = config.getoption("--harness-require-docker")
    return bool(option) or os.environ.get(REQUIRE_DOCKER_VARIABLE, "") not in ("", "0")


def backend_harness(config: pytest.Config, backend: str) -> Harness:
    """The session's harness of ``backend`` for ``harness_backends`` runs (created on first use).

    Raises :class:`DockerUnavailableError` for ``docker`` when no engine answers.
    """
    session = config.stash[_HARNESS_KEY]
    with contextlib.suppress(HarnessError):
        if session.backend == backend:
            return session  # the session's own services, not a second set
    harnesses = config.stash[_BACKEND_HARNESSES_KEY]
    if backend not in harnesses:
        harness = _new_harness(config, backend)
        if backend == "docker":
            check_docker(harness.docker_environment)
        harnesses[backend] = harness
    return harnesses[backend]


def _item_backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(_BACKEND_PARAMETER) if callspec is not None else None


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.getoption("--harness-no-prestart") or session.config.option.collectonly:
        return
    needed: dict[str | None, set[str]] = {}
    for item in session.items:
        names = {_FIXTURE_SERVICES[name] for name in getattr(item, "fixturenames", ()) if name in _FIXTURE_SERVICES}
        if names:
            needed.setdefault(_item_backend(item), set()).update(names)
    for backend, names in needed.items():
        if "logstash" in names:
            names.add("redis")
        try:
            harness = (
                session.config.stash[_HARNESS_KEY] if backend is None else backend_harness(session.config, backend)
            )
            harness.prestart(names)
        except HarnessError:
            pass  # reported by the fixtures of the tests that need the services


def _harnesses(config: pytest.Config) -> list[Harness]:
    session = config.stash.get(_HARNESS_KEY, None)
    others = list(config.stash.get(_BACKEND_HARNESSES_KEY, {}).values())
    return ([session] if session is not None else []) + others


def pytest_unconfigure(config: pytest.Config) -> None:
    errors: list[BaseException] = []
    for harness in _harnesses(config):
        try:
            harness.close()
        except Exception as error:
            errors.append(error)
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is _sigterm_as_interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if errors:
        raise errors[0]


def pytest_report_header(config: pytest.Config) -> str:
    harness = config.stash[_HARNESS_KEY]
    try:
        backend = harness.backend
    except HarnessError as error:
        backend = f"unavailable ({error})"
    docker = "answers" if docker_available(harness.docker_environment) else "does not answer"
    return f"tamarco-harness: session backend {backend}; a Docker engine {docker}"


def _used(harness: Harness, backend: str) -> list[str]:
    lines = []
    for name in harness.requested():
        image = f" ({harness.image(name)})" if backend == "docker" else ""
        lines.append(f"{name} on {backend}{image}")
    return lines


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    """After collection: the services this run starts, each with its backend (and image)."""
    lines = []
    session = config.stash[_HARNESS_KEY]
    if session.requested():
        lines += _used(session, session.backend)
    for backend, harness in config.stash[_BACKEND_HARNESSES_KEY].items():
        lines += _used(harness, backend)
    return [f"tamarco-harness: {', '.join(lines)}"] if lines else []


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The services that ran, each with the backend (and image) it actually used."""
    lines = [
        f"{service.kind} on {service.backend}" + (f" ({service.image})" if service.backend == "docker" else "")
        for harness in _harnesses(config)
        for service in harness.services()
    ]
    if lines:
        terminalreporter.write_line(f"tamarco-harness: {', '.join(lines)}")


# -- service fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def tamarco_harness_backend(request: pytest.FixtureRequest) -> str | None:
    """The backend of a ``harness_backends`` run, or ``None``: the session's own backend."""
    return getattr(request, "param", None)


@pytest.fixture(scope="session")
def tamarco_harness(pytestconfig: pytest.Config, tamarco_harness_backend: str | None) -> Harness:
    """The session's :class:`Harness` (in a ``harness_backends`` run, that backend's)."""
    if tamarco_harness_backend is None:
        return pytestconfig.stash[_HARNESS_KEY]
    try:
        return backend_harness(pytestconfig, tamarco_harness_backend)
    except DockerUnavailableError as error:
        if _require_docker(pytestconfig):
            raise
        pytest.skip(f"tamarco-harness docker backend: {error}")


@pytest.fixture(scope="session")
def etcd_service(tamarco_harness: Harness) -> EtcdService:
    """A running etcd (v3 API)."""
    return tamarco_harness.etcd


@pytest.fixture
def etcd_cluster_service(tamarco_harness: Harness) -> EtcdClusterService:
    """A running three-member etcd cluster (every member up when the test starts)."""
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
    harness: Harness = request.getfixturevalue("tamarco_harness")
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

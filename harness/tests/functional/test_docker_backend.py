"""The docker backend against a real engine and the real testcontainers: how a service becomes a
container, its faults as HarnessErrors within a bounded time, and nothing left behind.

Runs where an engine answers (``./dev docker`` prepares one and the local images); skipped
otherwise, failed instead with ``TAMARCO_HARNESS_REQUIRE_DOCKER=1`` (set by ``./dev test``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from tamarco.harness import (
    DockerUnavailableError,
    EtcdService,
    HarnessError,
    PortInUseError,
    RedisService,
    ServiceStartError,
    resolve_backend,
)
from tamarco.harness._backend import check_docker
from tamarco.harness._docker import HOST_LABEL, LABEL, OWNER_LABEL, SERVICE_LABEL, docker_client, owner
from tamarco.harness._probes import redis_ping
from tamarco.harness._process import ProcessSpec
from tamarco.harness._service import ContainerSpec
from tamarco.harness.pytest_plugin import REQUIRE_DOCKER_VARIABLE

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module", autouse=True)
def engine():
    try:
        check_docker()
    except DockerUnavailableError as error:
        if os.environ.get(REQUIRE_DOCKER_VARIABLE, "") not in ("", "0"):
            raise
        pytest.skip(str(error))
    return docker_client()


def ours(engine) -> list:
    """The containers this process's harness made."""
    return engine.containers.list(all=True, filters={"label": [f"{OWNER_LABEL}={owner()}"]})


def published_at(engine, port: int) -> list:
    """The harness's containers (of any state) publishing host port ``port``."""
    return [
        container
        for container in ours(engine)
        for binding in (container.attrs["HostConfig"]["PortBindings"] or {}).values()
        if any(host.get("HostPort") == str(port) for host in binding or [])
    ]


class ExitingRedis(RedisService):
    """The real image given a directive Redis rejects: the container exits at once."""

    def docker_container(self) -> ContainerSpec:
        spec = super().docker_container()
        assert spec.command is not None
        return ContainerSpec(image=spec.image, command=[*spec.command, "--no-such-directive", "yes"], ports=spec.ports)


class UnstartableRedis(RedisService):
    """A mount the engine refuses (whatever the image): it will not create the container."""

    def docker_container(self) -> ContainerSpec:
        spec = super().docker_container()
        volumes = [(str(self.workdir), "/harness", "no-such-mode")]
        return ContainerSpec(image=spec.image, command=spec.command, ports=spec.ports, volumes=volumes)

    def local_processes(self) -> list[ProcessSpec]:  # pragma: no cover - docker only
        raise AssertionError


def test_ports_are_published_on_loopback_only_and_the_container_is_labelled(engine):
    redis = RedisService("docker")
    try:
        redis.start()
        [container] = published_at(engine, redis.port)
        assert container.labels[SERVICE_LABEL] == "redis"
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert bindings == {"6379/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(redis.port)}]}
        assert container.labels[LABEL] == "1" and container.labels[HOST_LABEL] == socket.gethostname()
        assert container.image.tags == [redis.image] or redis.image in container.image.tags
        assert redis_ping(redis.host, redis.port)
    finally:
        redis.close()
    assert published_at(engine, redis.port) == []


def test_an_image_that_is_missing_is_an_error_naming_service_image_and_engine_message(engine):
    image = "tamarco-harness-test/missing:never"
    redis = RedisService("docker", image=image)
    started = time.monotonic()
    try:
        with pytest.raises(HarnessError) as caught:
            redis.start()
    finally:
        redis.close()
    message = str(caught.value)
    assert message.startswith("redis: ") and image in message and "TAMARCO_HARNESS_IMAGE_REDIS" in message
    assert "pulling it failed (" in message  # the engine's own words follow
    assert time.monotonic() - started < 120
    assert published_at(engine, redis.port) == []


def test_a_container_exiting_at_start_fails_fast_with_its_log_and_is_removed(engine):
    redis = ExitingRedis("docker")
    started = time.monotonic()
    try:
        with pytest.raises(ServiceStartError) as caught:
            redis.start()
    finally:
        redis.close()
    message = str(caught.value)
    assert "redis: exited while waiting" in message and redis.image in message
    assert "no-such-directive" in message  # Redis's complaint, from the container's log
    assert time.monotonic() - started < redis.start_timeout
    assert published_at(engine, redis.port) == []
    assert not redis.workdir.exists()


def test_an_engine_refusing_to_start_the_container_is_an_error_with_its_message(engine):
    redis = UnstartableRedis("docker")
    try:
        with pytest.raises(ServiceStartError) as caught:
            redis.start()
    finally:
        redis.close()
    message = str(caught.value)
    assert message.startswith("redis: starting image ") and "the engine said:" in message
    assert "no-such-mode" in message
    assert published_at(engine, redis.port) == []


def test_a_port_taken_while_stopped_is_refused(engine, monkeypatch):
    monkeypatch.setattr("tamarco.harness._service.PORT_RELEASE_TIMEOUT", 0.5)
    etcd = EtcdService("docker")
    try:
        etcd.start()
        etcd.stop()
        with socket.socket() as stranger:
            stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stranger.bind(("127.0.0.1", etcd.port))
            stranger.listen()
            with pytest.raises(PortInUseError, match=str(etcd.port)):
                etcd.start()
        etcd.start()  # the stranger is gone: the same address works again
        assert etcd.is_ready()
    finally:
        etcd.close()
    assert published_at(engine, etcd.port) == []


def test_auto_picks_docker_when_an_engine_answers(monkeypatch):
    monkeypatch.delenv("TAMARCO_HARNESS_BACKEND", raising=False)
    assert resolve_backend("auto") == "docker"
    assert resolve_backend(None, default="auto") == "docker"
    assert resolve_backend(None, default="local") == "local"  # the ini option of this repository


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from tamarco.harness import RedisService
    redis = RedisService("docker")
    redis.start()
    print(redis.port, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind
    """
)


def test_containers_of_a_killed_run_are_reaped_by_the_next_harness(engine, tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILLED], capture_output=True, text=True, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr
    port = int(killed.stdout.split()[0])
    assert redis_ping("127.0.0.1", port)  # left running by the killed process
    # The next harness process (here a fresh interpreter) removes it when it creates a runner.
    subprocess.run(
        [sys.executable, "-c", "from tamarco.harness import EtcdService; EtcdService('docker').close()"],
        check=True,
        timeout=120,
    )
    assert not redis_ping("127.0.0.1", port)
    harness_containers = engine.containers.list(all=True, filters={"label": [LABEL]})
    assert [c.name for c in harness_containers if str(port) in str(c.attrs["HostConfig"]["PortBindings"])] == []


def test_testcontainers_is_configured_for_this_engine(engine):
    from testcontainers.core.config import testcontainers_config as config

    RedisService("docker").close()  # a runner configures testcontainers once per engine
    try:
        engine.images.get(config.ryuk_image)
        ryuk_present = True
    except Exception:
        ryuk_present = False
    if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ:
        assert config.ryuk_disabled is not ryuk_present  # Ryuk only when its image is there
    if os.path.exists("/.dockerenv") and not os.environ.get("TESTCONTAINERS_HOST_OVERRIDE"):
        assert config.tc_host_override == "127.0.0.1"  # not the guessed bridge gateway

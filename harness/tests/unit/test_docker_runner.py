"""The docker backend's runner, against an in-memory stand-in for docker/testcontainers.

No Docker engine runs here: these tests check how a ContainerSpec becomes a container and
how the lifecycle maps onto container operations. CI's docker jobs run the real thing.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
from tamarco.harness import EtcdService, ServiceStartError
from tamarco.harness._docker import DockerRunner
from tamarco.harness._service import ContainerSpec


class FakeWrapped:
    def __init__(self) -> None:
        self.status = "running"
        self.calls: list[str] = []
        self.attrs: dict[str, Any] = {"State": {"Status": "running", "ExitCode": 0}}

    def reload(self) -> None:
        self.attrs["State"]["Status"] = self.status

    def start(self) -> None:
        self.calls.append("start")
        self.status = "running"

    def stop(self, timeout: int) -> None:
        self.calls.append(f"stop({timeout})")
        self.status = "exited"

    def kill(self) -> None:
        self.calls.append("kill")
        self.status = "exited"
        self.attrs["State"]["ExitCode"] = 137

    def logs(self, tail: int) -> bytes:
        return b"line 1\nfatal: bad flag\n"

    def exec_run(self, argv: list[str]) -> tuple[int, bytes]:
        self.calls.append("exec " + " ".join(argv))
        return 0, b"ok"


class FakeContainer:
    created: list[FakeContainer] = []

    def __init__(self, image: str) -> None:
        self.image = image
        self.env: dict[str, str] = {}
        self.ports: dict[int, Any] = {}
        self.volumes: list[tuple[str, str, str]] = []
        self.command: Any = None
        self.kwargs: dict[str, Any] = {}
        self.wrapped: FakeWrapped | None = None
        self.removed = False
        FakeContainer.created.append(self)

    def with_env(self, key: str, value: str) -> FakeContainer:
        self.env[key] = value
        return self

    def with_bind_ports(self, container: int, host: Any) -> FakeContainer:
        self.ports[container] = host
        return self

    def with_volume_mapping(self, host: str, container: str, mode: str) -> FakeContainer:
        self.volumes.append((host, container, mode))
        return self

    def with_command(self, command: Any) -> FakeContainer:
        self.command = command
        return self

    def with_kwargs(self, **kwargs: Any) -> FakeContainer:
        self.kwargs = kwargs
        return self

    def start(self) -> FakeContainer:
        self.wrapped = FakeWrapped()
        return self

    def get_wrapped_container(self) -> FakeWrapped | None:
        return self.wrapped

    def stop(self) -> None:
        self.removed = True


@pytest.fixture
def fake_docker(monkeypatch):
    FakeContainer.created = []
    docker = types.ModuleType("docker")
    errors = types.ModuleType("docker.errors")

    class DockerException(Exception):
        pass

    errors.DockerException = DockerException  # type: ignore[attr-defined]

    class Client:
        def ping(self) -> bool:
            return True

    docker.from_env = lambda timeout: Client()  # type: ignore[attr-defined]
    docker.errors = errors  # type: ignore[attr-defined]
    testcontainers = types.ModuleType("testcontainers")
    core = types.ModuleType("testcontainers.core")
    container = types.ModuleType("testcontainers.core.container")
    container.DockerContainer = FakeContainer  # type: ignore[attr-defined]
    for name, module in {
        "docker": docker,
        "docker.errors": errors,
        "testcontainers": testcontainers,
        "testcontainers.core": core,
        "testcontainers.core.container": container,
    }.items():
        monkeypatch.setitem(sys.modules, name, module)
    return FakeContainer


def test_a_spec_becomes_a_container_published_on_loopback(fake_docker):
    spec = ContainerSpec(
        image="example/image:1",
        command=["serve", "--fast"],
        env={"A": "1"},
        ports={2379: 40001},
        volumes=[("/tmp/x", "/x", "ro")],
        extra_hosts={"host.docker.internal": "host-gateway"},
    )
    runner = DockerRunner("example", lambda: spec)
    runner.launch()
    [container] = fake_docker.created
    assert container.image == "example/image:1"
    assert container.command == ["serve", "--fast"]
    assert container.env == {"A": "1"}
    assert container.ports == {2379: ("127.0.0.1", 40001)}
    assert container.volumes == [("/tmp/x", "/x", "ro")]
    assert container.kwargs == {"extra_hosts": {"host.docker.internal": "host-gateway"}}
    assert runner.alive()


def test_stop_start_kill_reuse_the_same_container(fake_docker):
    runner = DockerRunner("example", lambda: ContainerSpec(image="example/image:1", network_mode="host"))
    runner.launch()
    runner.terminate()
    assert not runner.alive()
    runner.launch()
    runner.kill()
    assert "exit code 137" in runner.describe_exit()
    runner.launch()
    [container] = fake_docker.created
    assert container.kwargs == {"network_mode": "host"}
    assert container.wrapped is not None
    assert container.wrapped.calls == ["stop(10)", "start", "kill", "start"]
    assert runner.exec(["rabbitmqctl", "status"]) == (0, "ok")
    runner.remove()
    assert container.removed


def test_a_container_that_exits_on_start_fails_fast_with_its_logs(fake_docker):
    class DyingContainer(FakeContainer):
        def start(self) -> FakeContainer:
            super().start()
            assert self.wrapped is not None
            self.wrapped.status = "exited"
            return self

    sys.modules["testcontainers.core.container"].DockerContainer = DyingContainer  # type: ignore[attr-defined]
    etcd = EtcdService("docker")
    try:
        with pytest.raises(ServiceStartError, match="fatal: bad flag") as caught:
            etcd.start()
        assert "exited while waiting" in str(caught.value)
    finally:
        etcd.close()
    assert not etcd.workdir.exists()


def test_etcd_docker_spec_advertises_the_published_port(fake_docker):
    etcd = EtcdService("docker")
    try:
        spec = etcd.docker_container()
    finally:
        etcd.close()
    assert spec.ports == {2379: etcd.port}
    assert spec.command is not None
    advertised = spec.command[spec.command.index("--advertise-client-urls") + 1]
    assert advertised == f"http://127.0.0.1:{etcd.port}"

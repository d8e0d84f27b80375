"""The docker backend's runner: one container per service, through testcontainers.

testcontainers and docker are imported lazily, only when a docker service is created, so
the local backend works without them. The container is created on the first start and
then stopped/started/killed in place, so its published host ports (fixed by the service)
and its data survive ``restart()``.

Every container carries labels naming the harness, its service and the process that made it
(pid and start time, host name). Creating a runner first removes the containers of harness
processes on this host that are gone (a test run killed with SIGKILL): nothing piles up.
Each engine call is bounded (:data:`ENGINE_TIMEOUT`; an image pull :data:`PULL_TIMEOUT`), and
each failure is a :class:`~tamarco.harness.HarnessError` naming the service, the image and
the engine's message.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ._backend import check_docker, docker_environment
from ._errors import HarnessError, ServiceStartError
from ._service import ContainerSpec

#: Seconds an engine call (create, start, stop, inspect) may take.
ENGINE_TIMEOUT = 60
#: Seconds an image pull may take (only images missing from the engine are pulled).
PULL_TIMEOUT = 600
LABEL = "org.tamarco.harness"
SERVICE_LABEL = f"{LABEL}.service"
OWNER_LABEL = f"{LABEL}.owner"
HOST_LABEL = f"{LABEL}.host"

_configured = threading.Lock()
_reaped: set[str] = set()


def _process_start_time(pid: int) -> str | None:
    """The start time of ``pid`` (clock ticks since boot), or ``None`` when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner() -> str:
    """This process as container labels know it: ``<pid>:<start time>``."""
    return f"{os.getpid()}:{_process_start_time(os.getpid())}"


def _owner_alive(label: str) -> bool:
    pid, _, started = label.partition(":")
    return pid.isdigit() and _process_start_time(int(pid)) == started


def reap_orphans(client: Any) -> list[str]:
    """Remove the harness containers of processes on this host that no longer run."""
    removed = []
    hostname = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": [f"{HOST_LABEL}={hostname}"]}):
        label = container.labels.get(OWNER_LABEL, "")
        if not _owner_alive(label):
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed


def _configure_testcontainers(client: Any) -> None:
    """Ryuk only when its image is there (no pull); the host right where ``/.dockerenv`` exists."""
    import docker.errors
    from testcontainers.core.config import testcontainers_config as config

    if "TESTCONTAINERS_RYUK_DISABLED" not in os.environ and not config.ryuk_disabled:
        try:
            client.images.get(config.ryuk_image)
        except docker.errors.ImageNotFound:
            config.ryuk_disabled = True
    if Path("/.dockerenv").exists() and not config.tc_host_override:
        # testcontainers then guesses the bridge gateway; the harness publishes on loopback.
        config.tc_host_override = "127.0.0.1"


def docker_client(timeout: int = ENGINE_TIMEOUT, environment: Mapping[str, str] | None = None) -> Any:
    """A docker client for the engine ``environment`` (``DOCKER_*`` variables) names, else the process's."""
    import docker

    return docker.from_env(timeout=timeout, environment=dict(environment) if environment is not None else None)


class DockerRunner:
    def __init__(
        self, kind: str, plan: Callable[[], ContainerSpec], environment: Mapping[str, str] | None = None
    ) -> None:
        self._environment = dict(environment) if environment is not None else docker_environment()
        check_docker(self._environment)
        self.kind = kind
        self._plan = plan
        self._container: Any = None
        self._image = ""
        client = self._client()
        with _configured:
            endpoint = str(client.api.base_url)
            if endpoint not in _reaped:
                _configure_testcontainers(client)
                reap_orphans(client)
                _reaped.add(endpoint)

    def _client(self, timeout: int = ENGINE_TIMEOUT) -> Any:
        return docker_client(timeout, self._environment)

    def _wrapped(self) -> Any:
        return self._container.get_wrapped_container() if self._container is not None else None

    def _fail(self, action: str, exc: Exception) -> HarnessError:
        explanation = getattr(exc, "explanation", None) or str(exc)
        return ServiceStartError(self.kind, f"{action} image {self._image}: the engine said: {explanation}")

    def _ensure_image(self) -> None:
        import docker.errors

        try:
            self._client().images.get(self._image)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.DockerException as exc:
            raise self._fail("looking up", exc) from exc
        try:
            self._client(PULL_TIMEOUT).images.pull(self._image)
        except Exception as exc:  # the engine's, or the HTTP client's, error: both reported
            raise HarnessError(
                f"{self.kind}: image {self._image} is not on the engine and pulling it failed "
                f"({getattr(exc, 'explanation', None) or exc}); pull or build it, or name another image "
                f"with TAMARCO_HARNESS_IMAGE_{self.kind.upper()}"
            ) from exc

    def launch(self) -> None:
        import docker.errors
        import requests.exceptions

        if self._container is not None:
            try:
                self._wrapped().start()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise self._fail("starting again", exc) from exc
            return
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.exceptions import ContainerStartException

        spec = self._plan()
        self._image = spec.image
        self._ensure_image()
        client_options = {"timeout": ENGINE_TIMEOUT, "environment": self._environment}
        container = DockerContainer(spec.image, docker_client_kw=client_options)
        for key, value in spec.env.items():
            container.with_env(key, value)
        for container_port, host_port in spec.ports.items():
            # Published on loopback only, at the port the service chose. with_bind_ports takes
            # no host address (testcontainers 4.15); the ports mapping goes to docker-py as is.
            container.ports[f"{container_port}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
        for host_path, container_path, mode in spec.volumes:
            container.with_volume_mapping(host_path, container_path, mode)
        if spec.command is not None:
            container.with_command(spec.command)
        kwargs: dict[str, Any] = {
            "labels": {
                LABEL: "1",
                SERVICE_LABEL: self.kind,
                OWNER_LABEL: owner(),
                HOST_LABEL: socket.gethostname(),
            },
        }
        if spec.network_mode:
            kwargs["network_mode"] = spec.network_mode
        else:
            kwargs["network"] = "bridge"  # no guessing from where the tests run
        if spec.extra_hosts:
            kwargs["extra_hosts"] = spec.extra_hosts
        container.with_kwargs(**kwargs)
        try:
            container.start()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            with contextlib.suppress(ContainerStartException):  # raised when never created
                # Created, then refused to start (a port taken, say): remove it.
                container.get_wrapped_container().remove(force=True, v=True)
            raise self._fail("starting", exc) from exc
        self._container = container

    def alive(self) -> bool:
        wrapped = self._wrapped()
        if wrapped is None:
            return False
        wrapped.reload()
        return bool(wrapped.status == "running")

    def describe_exit(self) -> str:
        wrapped = self._wrapped()
        if wrapped is None:
            return "container not created"
        wrapped.reload()
        state = wrapped.attrs.get("State", {})
        return f"container of {self._image} {state.get('Status')}, exit code {state.get('ExitCode')}"

    def terminate(self) -> None:
        wrapped = self._wrapped()
        if wrapped is not None and self.alive():
            wrapped.stop(timeout=10)

    def kill(self) -> None:
        wrapped = self._wrapped()
        if wrapped is not None and self.alive():
            wrapped.kill()

    def remove(self) -> None:
        wrapped = self._wrapped()
        self._container = None
        if wrapped is not None:
            wrapped.remove(force=True, v=True)

    def exec(self, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` inside the container; returns the exit code and the output."""
        code, output = self._wrapped().exec_run(argv)
        return int(code), output.decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        wrapped = self._wrapped()
        if wrapped is None:
            return ""
        return str(wrapped.logs(tail=lines).decode(errors="replace")).rstrip()

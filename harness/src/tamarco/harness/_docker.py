"""The docker backend's runner: one container per service, through testcontainers.

testcontainers and docker are imported lazily, only when a docker service is created, so
the local backend works without them. The container is created on the first start and
then stopped/started/killed in place, so its published host ports (fixed by the service)
and its data survive ``restart()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._backend import check_docker
from ._service import ContainerSpec


class DockerRunner:
    def __init__(self, kind: str, plan: Callable[[], ContainerSpec]) -> None:
        check_docker()
        self.kind = kind
        self._plan = plan
        self._container: Any = None

    def _wrapped(self) -> Any:
        return self._container.get_wrapped_container() if self._container is not None else None

    def launch(self) -> None:
        if self._container is not None:
            self._wrapped().start()
            return
        from testcontainers.core.container import DockerContainer

        spec = self._plan()
        container = DockerContainer(spec.image)
        for key, value in spec.env.items():
            container.with_env(key, value)
        for container_port, host_port in spec.ports.items():
            # Published on loopback only, at the port the service chose.
            container.with_bind_ports(container_port, ("127.0.0.1", host_port))  # type: ignore[arg-type]
        for host_path, container_path, mode in spec.volumes:
            container.with_volume_mapping(host_path, container_path, mode)
        if spec.command is not None:
            container.with_command(spec.command)
        kwargs: dict[str, Any] = {}
        if spec.network_mode:
            kwargs["network_mode"] = spec.network_mode
        if spec.extra_hosts:
            kwargs["extra_hosts"] = spec.extra_hosts
        if kwargs:
            container.with_kwargs(**kwargs)
        container.start()
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
        return f"container {state.get('Status')}, exit code {state.get('ExitCode')}"

    def terminate(self) -> None:
        wrapped = self._wrapped()
        if wrapped is not None and self.alive():
            wrapped.stop(timeout=10)

    def kill(self) -> None:
        wrapped = self._wrapped()
        if wrapped is not None and self.alive():
            wrapped.kill()

    def remove(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None

    def exec(self, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` inside the container; returns the exit code and the output."""
        code, output = self._wrapped().exec_run(argv)
        return int(code), output.decode(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        wrapped = self._wrapped()
        if wrapped is None:
            return ""
        return str(wrapped.logs(tail=lines).decode(errors="replace")).rstrip()

"""Redis."""

from __future__ import annotations

import socket

from . import _binaries
from ._errors import HarnessError
from ._images import DEFAULT_IMAGES
from ._probes import redis_ping
from ._process import ProcessSpec
from ._service import ContainerSpec, Service

REDIS_IMAGE = DEFAULT_IMAGES["redis"]


class RedisService(Service):
    """Redis without persistence (``--save ''``): data does not survive ``restart()``."""

    kind = "redis"
    port_names = ("redis",)
    start_timeout = 20.0

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {
            "TAMARCO_REDIS_HOST": self.host,
            "TAMARCO_REDIS_PORT": str(self.port),
            "TAMARCO_REDIS_URL": self.url,
        }

    def is_ready(self) -> bool:
        return redis_ping(self.host, self.port)

    def local_processes(self) -> list[ProcessSpec]:
        argv = [
            _binaries.find_binary(_binaries.REDIS_SERVER),
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        return [ProcessSpec("redis", argv)]

    def docker_container(self) -> ContainerSpec:
        # Protected mode off: connections arrive from Docker's port proxy, not from loopback.
        command = ["redis-server", "--save", "", "--protected-mode", "no"]
        return ContainerSpec(image=self.image, command=command, ports={6379: self.port})

    def command(self, *args: str) -> bytes:
        """Send one command (inline protocol) and return the raw first reply line."""
        line = " ".join(args).encode() + b"\r\n"
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(line)
            reply = sock.recv(65536)
        if reply.startswith(b"-"):
            raise HarnessError(f"redis: {' '.join(args)} failed: {reply.decode().strip()}")
        return reply

    def flushall(self) -> None:
        """Delete every key in every database."""
        self.command("FLUSHALL")

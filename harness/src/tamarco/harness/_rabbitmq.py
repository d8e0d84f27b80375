"""RabbitMQ (AMQP 0-9-1)."""

from __future__ import annotations

import os
import subprocess
from typing import cast

from . import _binaries
from ._errors import HarnessError
from ._images import DEFAULT_IMAGES
from ._probes import amqp_handshake
from ._process import ProcessSpec
from ._service import ContainerSpec, Service

RABBITMQ_IMAGE = DEFAULT_IMAGES["rabbitmq"]
_DIST_ARGS = "-kernel inet_dist_use_interface {127,0,0,1}"


class RabbitMQService(Service):
    """RabbitMQ with the default ``guest``/``guest`` user on vhost ``/``.

    The local backend runs its own epmd on a loopback port (otherwise Erlang starts one on
    all interfaces that outlives the broker) and calls ``/usr/lib/rabbitmq/bin/*``
    directly (the ``/usr/sbin`` wrappers switch user and cookie).
    """

    kind = "rabbitmq"
    port_names = ("amqp", "epmd", "dist")
    start_timeout = 60.0
    user = "guest"
    password = "guest"

    @property
    def url(self) -> str:
        return self.vhost_url("/")

    def vhost_url(self, vhost: str) -> str:
        """The AMQP URL of ``vhost`` (``/`` is the default vhost)."""
        quoted = "%2F" if vhost == "/" else vhost.replace("/", "%2F")
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/{quoted}"

    def env(self) -> dict[str, str]:
        return {
            "TAMARCO_AMQP_HOST": self.host,
            "TAMARCO_AMQP_PORT": str(self.port),
            "TAMARCO_AMQP_USER": self.user,
            "TAMARCO_AMQP_PASSWORD": self.password,
            "TAMARCO_AMQP_VHOST": "/",
            "TAMARCO_AMQP_URL": self.url,
        }

    def is_ready(self) -> bool:
        return amqp_handshake(self.host, self.port)

    def _erlang_env(self) -> dict[str, str]:
        d = self.workdir
        return {
            "HOME": str(d / "home"),
            "ERL_EPMD_ADDRESS": self.host,
            "ERL_EPMD_PORT": str(self.ports["epmd"]),
            "RABBITMQ_NODENAME": "tamarco@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.ports["dist"]),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": _DIST_ARGS,
            "RABBITMQ_CTL_ERL_ARGS": _DIST_ARGS,
        }

    def before_start(self) -> None:
        if self.backend != "local":
            return
        d = self.workdir
        (d / "home").mkdir(exist_ok=True)
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.host}:{self.port}\nlog.console = true\nlog.file = false\n"
        )
        (d / "rabbitmq-env.conf").write_text("")
        (d / "enabled_plugins").write_text("[].\n")

    def local_processes(self) -> list[ProcessSpec]:
        epmd = _binaries.find_binary(_binaries.EPMD)
        server = _binaries.find_binary(_binaries.RABBITMQ_SERVER)
        epmd_port = self.ports["epmd"]
        env = self._erlang_env()
        return [
            ProcessSpec(
                "epmd",
                [epmd, "-address", self.host, "-port", str(epmd_port)],
                env=env,
                ready_port=epmd_port,
            ),
            ProcessSpec("rabbitmq", [server], env=env, cwd=self.workdir),
        ]

    def docker_container(self) -> ContainerSpec:
        return ContainerSpec(image=self.image, ports={5672: self.port})

    # -- administration ------------------------------------------------------------------

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl ARGS`` against this broker and return its output."""
        if self.backend == "local":
            ctl = _binaries.find_binary(_binaries.RABBITMQCTL)
            completed = subprocess.run(
                [ctl, "-q", *args],
                env={**os.environ, **self._erlang_env()},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            code, output = completed.returncode, completed.stdout + completed.stderr
        else:
            from ._docker import DockerRunner

            code, output = cast(DockerRunner, self._runner).exec(["rabbitmqctl", "-q", *args])
        if code != 0:
            raise HarnessError(f"rabbitmq: rabbitmqctl {' '.join(args)} failed ({code}): {output}")
        return output

    def add_vhost(self, vhost: str) -> None:
        """Create ``vhost`` and give the harness user full permissions on it."""
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, self.user, ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        """Delete ``vhost`` with everything in it."""
        self.ctl("delete_vhost", vhost)

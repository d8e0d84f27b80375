"""A Logstash input: the real Logstash in docker, the harness's own collector locally."""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

from ._errors import HarnessError
from ._images import DEFAULT_IMAGES
from ._probes import tcp_open
from ._process import ProcessSpec
from ._redis import RedisService
from ._service import ContainerSpec, Service
from ._wait import wait_until

LOGSTASH_IMAGE = DEFAULT_IMAGES["logstash"]
DEFAULT_KEY = "logstash"

Event = dict[str, Any]

_PIPELINE = """\
input {{
  udp {{ host => "{host}" port => {udp} codec => json add_field => {{ "harness_input" => "udp" }} }}
  http {{ host => "{host}" port => {http} add_field => {{ "harness_input" => "http" }} }}
{redis}}}
output {{ file {{ path => "/harness/events/events.jsonl" codec => json_lines }} }}
"""
_REDIS_INPUT = (
    '  redis {{ host => "{host}" port => {port} data_type => "{kind}" key => "{key}" '
    'add_field => {{ "harness_input" => "{name}" }} }}\n'
)


class LogstashService(Service):
    """Logstash's UDP JSON, HTTP JSON and Redis inputs; ``events()`` returns what arrived.

    ``port`` is the UDP input (Tamarco's ``system.logging.logstash.port``); ``url`` is the
    HTTP input (``system.logging.http.url``); the Redis inputs read the list
    ``redis_key`` and the channel ``redis_channel`` on the harness's Redis
    (``system.logging.redis``). Each event gets a field ``harness_input``: ``udp``,
    ``http``, ``redis_list`` or ``redis_channel``. Events are kept across ``restart()``.

    The docker backend runs the real Logstash image with the host network (Linux only),
    so it reaches the harness's Redis on loopback.
    """

    kind = "logstash"
    port_names = ("udp", "http", "api")
    start_timeout = 20.0

    def __init__(
        self,
        backend: str = "local",
        *,
        redis: RedisService | None = None,
        redis_key: str = DEFAULT_KEY,
        redis_channel: str = DEFAULT_KEY,
        **kwargs: Any,
    ) -> None:
        super().__init__(backend, **kwargs)
        if backend == "docker":
            self.start_timeout = 180.0  # a JVM: Logstash takes about a minute
        self.redis = redis
        self.redis_key = redis_key
        self.redis_channel = redis_channel
        self._events_dir = self.workdir / "events"
        self._events_dir.mkdir(exist_ok=True)
        self._events_dir.chmod(0o777)  # Logstash runs as uid 1000 in its container.
        self.events_path = self._events_dir / "events.jsonl"

    # -- addresses -----------------------------------------------------------------------

    @property
    def udp_port(self) -> int:
        return self.ports["udp"]

    @property
    def http_port(self) -> int:
        return self.ports["http"]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def redis_url(self) -> str | None:
        return self.redis.url if self.redis else None

    def env(self) -> dict[str, str]:
        env = {
            "TAMARCO_LOGSTASH_HOST": self.host,
            "TAMARCO_LOGSTASH_PORT": str(self.udp_port),
            "TAMARCO_LOGSTASH_HTTP_URL": self.url,
        }
        if self.redis is not None:
            env.update(
                {
                    "TAMARCO_LOGSTASH_REDIS_HOST": self.redis.host,
                    "TAMARCO_LOGSTASH_REDIS_PORT": str(self.redis.port),
                    "TAMARCO_LOGSTASH_REDIS_KEY": self.redis_key,
                    "TAMARCO_LOGSTASH_REDIS_CHANNEL": self.redis_channel,
                }
            )
        return env

    def is_ready(self) -> bool:
        return tcp_open(self.host, self.http_port)

    def before_start(self) -> None:
        if self.redis is not None:
            self.redis.start()
        if self.backend == "docker":
            if not sys.platform.startswith("linux"):
                raise HarnessError("logstash: the docker backend needs Linux (host network)")
            (self.workdir / "pipeline").mkdir(exist_ok=True)
            (self.workdir / "pipeline" / "logstash.conf").write_text(self.pipeline_config())

    def pipeline_config(self) -> str:
        """The Logstash pipeline of the docker backend (also the model for compose/)."""
        redis = ""
        if self.redis is not None:
            for kind, key, name in (
                ("list", self.redis_key, "redis_list"),
                ("channel", self.redis_channel, "redis_channel"),
            ):
                redis += _REDIS_INPUT.format(host=self.redis.host, port=self.redis.port, kind=kind, key=key, name=name)
        return _PIPELINE.format(host=self.host, udp=self.udp_port, http=self.http_port, redis=redis)

    def local_processes(self) -> list[ProcessSpec]:
        argv = [
            sys.executable,
            "-m",
            "tamarco.harness._collector",
            "--host",
            self.host,
            "--udp-port",
            str(self.udp_port),
            "--http-port",
            str(self.http_port),
            "--events",
            str(self.events_path),
        ]
        if self.redis is not None:
            argv += ["--redis-url", self.redis.url, "--redis-key", self.redis_key]
            argv += ["--redis-channel", self.redis_channel]
        return [ProcessSpec("collector", argv)]

    def docker_container(self) -> ContainerSpec:
        return ContainerSpec(
            image=self.image,
            env={
                "XPACK_MONITORING_ENABLED": "false",
                "LS_JAVA_OPTS": "-Xms256m -Xmx256m",
                "API_HTTP_HOST": self.host,
                "API_HTTP_PORT": str(self.ports["api"]),
            },
            volumes=[
                (str(self.workdir / "pipeline"), "/usr/share/logstash/pipeline", "ro"),
                (str(self._events_dir), "/harness/events", "rw"),
            ],
            network_mode="host",
        )

    # -- sending (for tests of the harness and quick checks) -----------------------------

    def send_udp(self, event: Event) -> None:
        """Send one event as a UDP JSON datagram."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(json.dumps(event).encode(), (self.host, self.udp_port))

    def send_http(self, events: Event | list[Event]) -> None:
        """POST one event or a list of events as JSON."""
        request = urllib.request.Request(
            self.url, data=json.dumps(events).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()

    # -- reading back --------------------------------------------------------------------

    def events(self) -> list[Event]:
        """Every event received so far, oldest first."""
        try:
            text = self.events_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        events = []
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # still being written
            events.append(json.loads(line))
        return events

    def wait_for_events(
        self, predicate: Callable[[Event], bool] = lambda event: True, timeout: float = 10.0, count: int = 1
    ) -> list[Event]:
        """Poll until at least ``count`` events match ``predicate``; returns the matches."""

        def attempt() -> list[Event] | None:
            matches = [event for event in self.events() if predicate(event)]
            return matches if len(matches) >= count else None

        found: list[Event] = wait_until(
            attempt, timeout, interval=0.05, description=f"{count} matching logstash event(s)"
        )
        return found

    def clear(self) -> None:
        """Forget the events received so far."""
        if self.events_path.exists():
            self.events_path.write_text("")

"""carbon-cache (Graphite's plaintext protocol)."""

from __future__ import annotations

import pickle
import socket
import struct
import time
import urllib.parse
from pathlib import Path

from . import _binaries
from ._probes import http_get_json, http_ok, tcp_open
from ._process import ProcessSpec
from ._service import ContainerSpec, Service
from ._wait import wait_until
from ._whisper import read_whisper

CARBON_IMAGE = "graphiteapp/graphite-statsd:1.1.10-5"

_CARBON_CONF = """\
[cache]
STORAGE_DIR = {d}/storage/
LOCAL_DATA_DIR = {d}/storage/whisper/
WHITELISTS_DIR = {d}/storage/lists/
CONF_DIR = {d}/
LOG_DIR = {d}/log/
PID_DIR = {d}/
DATABASE = whisper
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = {host}
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = {host}
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = {host}
CACHE_QUERY_PORT = {query}
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = False
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = True
WHISPER_FALLOCATE_CREATE = False
"""

# One point per second kept for a day: every distinct timestamp a test sends is kept.
_STORAGE_SCHEMAS = """\
[default]
pattern = .*
retentions = 1s:1d
"""


class CarbonService(Service):
    """carbon-cache receiving the plaintext protocol on ``host:port``.

    ``datapoints(path)`` reads back what carbon received: locally the points still in
    carbon's cache (through its cache-query port) merged with the whisper file on disk,
    one point per second; with docker, graphite-web's render API, where the image's
    storage schema rounds timestamps to 10 s. ``wait_for_metric`` polls it.
    """

    kind = "carbon"
    port_names = ("line", "pickle", "query", "web")
    start_timeout = 30.0

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"TAMARCO_CARBON_HOST": self.host, "TAMARCO_CARBON_PORT": str(self.port)}

    def is_ready(self) -> bool:
        if self.backend == "docker":
            # graphite-web answering a render means the image's services are up (a TCP
            # connect alone only reaches Docker's port proxy).
            return http_ok(f"http://{self.host}:{self.ports['web']}/render?target=harness.ready&format=json")
        # An answered cache query means carbon-cache has opened its listeners.
        return tcp_open(self.host, self.port) and self._cache_query("harness.ready") is not None

    def before_start(self) -> None:
        if self.backend != "local":
            return
        d = self.workdir
        for sub in ("storage/whisper", "storage/lists", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "carbon.conf").write_text(
            _CARBON_CONF.format(
                d=d,
                host=self.host,
                line=self.port,
                pickle=self.ports["pickle"],
                query=self.ports["query"],
            )
        )
        (d / "storage-schemas.conf").write_text(_STORAGE_SCHEMAS)

    def local_processes(self) -> list[ProcessSpec]:
        d = self.workdir
        argv = [
            _binaries.find_binary(_binaries.CARBON_CACHE),
            f"--config={d / 'carbon.conf'}",
            "--nodaemon",
            "--logfile=-",
            f"--pidfile={d / 'carbon.pid'}",
            "start",
        ]
        # Debian's carbon runs on /usr/bin/python3: keep the test venv out of its path.
        return [ProcessSpec("carbon", argv, env={"PYTHONPATH": "", "VIRTUAL_ENV": ""}, cwd=d)]

    def docker_container(self) -> ContainerSpec:
        return ContainerSpec(
            image=CARBON_IMAGE,
            ports={2003: self.port, 2004: self.ports["pickle"], 7002: self.ports["query"], 80: self.ports["web"]},
        )

    # -- sending and reading back --------------------------------------------------------

    def send(self, path: str, value: float, timestamp: float | None = None) -> None:
        """Send one plaintext metric line (what Tamarco's carbon handler does)."""
        line = f"{path} {value} {int(timestamp if timestamp is not None else time.time())}\n"
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(line.encode())

    def datapoints(self, path: str) -> list[tuple[int, float]]:
        """Every ``(timestamp, value)`` carbon holds for ``path``, sorted by timestamp."""
        if self.backend == "docker":
            return self._render(path)
        points = dict(self._whisper_points(path))
        points.update(self._cache_query(path) or [])
        return sorted(points.items())

    def wait_for_metric(
        self, path: str, timeout: float = 10.0, *, value: float | None = None
    ) -> list[tuple[int, float]]:
        """Poll until ``path`` has a point (with ``value``, when given); returns the points."""

        def attempt() -> list[tuple[int, float]] | None:
            points = self.datapoints(path)
            if value is not None and not any(v == value for _, v in points):
                return None
            return points or None

        found: list[tuple[int, float]] = wait_until(
            attempt, timeout, interval=0.1, description=f"carbon metric {path!r}"
        )
        return found

    def whisper_path(self, path: str) -> Path:
        """Where the local backend stores ``path``."""
        return self.workdir / "storage" / "whisper" / (path.replace(".", "/") + ".wsp")

    def _whisper_points(self, path: str) -> list[tuple[int, float]]:
        file = self.whisper_path(path)
        return read_whisper(file) if file.exists() else []

    def _cache_query(self, path: str) -> list[tuple[int, float]] | None:
        """The points of ``path`` still in carbon's cache, or ``None`` if carbon does not answer."""
        request = pickle.dumps({"type": "cache-query", "metric": path}, protocol=2)
        try:
            with socket.create_connection((self.host, self.ports["query"]), timeout=5) as sock:
                sock.sendall(struct.pack("!I", len(request)) + request)
                size = struct.unpack("!I", _read_exactly(sock, 4))[0]
                # Our own carbon on loopback answers with a dict of numbers.
                reply = pickle.loads(_read_exactly(sock, size))
        except (OSError, pickle.UnpicklingError, struct.error):
            return None
        return [(int(ts), float(v)) for ts, v in reply.get("datapoints", [])]

    def _render(self, path: str) -> list[tuple[int, float]]:
        query = urllib.parse.urlencode({"target": path, "format": "json", "from": "-1d"})
        try:
            series = http_get_json(f"http://{self.host}:{self.ports['web']}/render?{query}")
        except (OSError, ValueError):
            return []
        return sorted((int(ts), float(v)) for item in series for v, ts in item["datapoints"] if v is not None)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("carbon closed the cache-query connection")
        chunks += chunk
    return chunks

"""carbon-cache (Graphite's plaintext protocol)."""

from __future__ import annotations

import pickle
import socket
import struct
import time
import urllib.parse
from pathlib import Path

from . import _binaries
from ._images import DEFAULT_IMAGES
from ._probes import http_get_json, http_ok
from ._process import ProcessSpec
from ._service import ContainerSpec, Service
from ._wait import wait_until
from ._whisper import read_whisper

CARBON_IMAGE = DEFAULT_IMAGES["carbon"]
#: Where graphiteapp/graphite-statsd (and the harness's local carbon image) keep whisper files.
DOCKER_WHISPER = "/opt/graphite/storage/whisper"

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

    ``datapoints(path)`` reads back what carbon received: the points still in carbon's cache
    (through its cache-query port) merged with the whisper file on disk, one point per second
    locally. With docker the whisper directory (``/opt/graphite/storage/whisper``, as in
    graphiteapp/graphite-statsd) is mounted from the service's temp directory, and
    graphite-web's render API is read too when the image serves it (the upstream image, whose
    storage schema rounds timestamps to 10 s). ``wait_for_metric`` polls it.
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
        # An answered cache query means carbon-cache has opened its listeners (with docker a
        # TCP connect alone only reaches Docker's port proxy). The upstream image also serves
        # graphite-web, which its readers need: wait for it there.
        if self._cache_query("harness.ready") is None:
            return False
        return self.backend != "docker" or not self._web_needed() or self._web_ready()

    def _web_ready(self) -> bool:
        return http_ok(f"http://{self.host}:{self.ports['web']}/render?target=harness.ready&format=json")

    def _web_needed(self) -> bool:
        """Whether the image is graphite-statsd (graphite-web inside), by its name."""
        return "graphite" in self.image

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
        whisper = self.workdir / "storage" / "whisper"
        whisper.mkdir(parents=True, exist_ok=True)
        return ContainerSpec(
            image=self.image,
            ports={2003: self.port, 2004: self.ports["pickle"], 7002: self.ports["query"], 80: self.ports["web"]},
            volumes=[(str(whisper), DOCKER_WHISPER, "rw")],
        )

    # -- sending and reading back --------------------------------------------------------

    def send(self, path: str, value: float, timestamp: float | None = None) -> None:
        """Send one plaintext metric line (what Tamarco's carbon handler does)."""
        line = f"{path} {value} {int(timestamp if timestamp is not None else time.time())}\n"
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.sendall(line.encode())

    def datapoints(self, path: str) -> list[tuple[int, float]]:
        """Every ``(timestamp, value)`` carbon holds for ``path``, sorted by timestamp."""
        points = dict(self._render(path)) if self.backend == "docker" and self._web_needed() else {}
        points.update(self._whisper_points(path))
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

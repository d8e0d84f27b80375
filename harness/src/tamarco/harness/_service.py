"""The service interface shared by every kind and both backends.

A :class:`Service` owns a fixed set of loopback ports and a temp directory for its whole
life, so ``stop()``/``start()``/``restart()`` bring the service back at the same address.
What runs behind it is a *runner*: child processes (local backend) or a container
(docker backend). Lifecycle:

- ``start()``: refuse if a port is held by a stranger (before the first start, pick other
  free ports instead), launch, then poll the service's ready check; if the child dies or
  the deadline passes, kill what was launched and raise :class:`ServiceStartError` with
  the tail of its log.
- ``stop()``: graceful (SIGTERM, then SIGKILL after a grace period); data dirs are kept.
- ``kill()``: SIGKILL, for fault injection; ``start()`` afterwards works as after ``stop()``.
- ``close()``: stop, remove the container, delete the temp directory. Final.
"""

from __future__ import annotations

import abc
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from ._errors import HarnessError, PortInUseError, ServiceStartError
from ._images import image_for
from ._ports import LOOPBACK, free_port, port_is_bound
from ._process import ProcessSpec

BACKENDS = ("local", "docker")


#: How long ``start()`` waits for its own address to be released after a kill or stop.
PORT_RELEASE_TIMEOUT = 10.0


@dataclass(frozen=True)
class ContainerSpec:
    """What the docker backend runs: an image and how to configure it.

    ``ports`` maps container ports to the host ports of the service (published on
    127.0.0.1 only). ``network_mode="host"`` is used where the container must reach
    loopback servers of the test process (Prometheus scraping a test's target).
    """

    image: str
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ports: dict[int, int] = field(default_factory=dict)
    volumes: list[tuple[str, str, str]] = field(default_factory=list)
    network_mode: str | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)
    ready_log: str | None = None


class Runner(Protocol):
    """Runs a service's processes or container: the seam between the two backends."""

    def launch(self) -> None: ...

    def alive(self) -> bool: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...

    def remove(self) -> None: ...

    def log_tail(self, lines: int = 40) -> str: ...

    def describe_exit(self) -> str: ...


class Service(abc.ABC):
    """A real service for tests, at a fixed loopback address.

    Attributes common to every kind: ``host``, ``port`` (the main port), ``url`` (ready to
    hand to a client), ``backend`` (``"local"`` or ``"docker"``) and ``env()`` (the
    ``TAMARCO_*`` variables pointing at it).
    """

    kind: ClassVar[str]
    #: Names of the loopback ports the service needs; the first is ``port``.
    port_names: ClassVar[tuple[str, ...]]
    #: Seconds a start may take before it is declared failed.
    start_timeout: float = 30.0

    def __init__(
        self,
        backend: str = "local",
        *,
        workdir: Path | None = None,
        image: str | None = None,
        docker_environment: Mapping[str, str] | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise HarnessError(f"{self.kind}: unknown backend {backend!r}; use one of {BACKENDS}")
        self.backend = backend
        #: The image the docker backend runs (:func:`~tamarco.harness._images.image_for` unless given).
        self.image = image or image_for(self.kind)
        self._docker_environment = dict(docker_environment) if docker_environment is not None else None
        self.host = LOOPBACK
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tamarco-harness-{self.kind}-")) if workdir is None else workdir
        self.ports: dict[str, int] = {name: free_port() for name in self.port_names}
        self._lock = threading.RLock()
        self._started_once = False
        self._closed = False
        try:
            self._runner: Runner = self._make_runner()
        except BaseException:
            if self._own_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            raise

    def _make_runner(self) -> Runner:
        if self.backend == "local":
            from ._local import LocalRunner

            return LocalRunner(self.kind, self.workdir, self.local_processes)
        from ._docker import DockerRunner

        return DockerRunner(self.kind, self.docker_container, self._docker_environment)

    # -- what each kind provides -------------------------------------------------------

    @property
    def port(self) -> int:
        return self.ports[self.port_names[0]]

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """A URL a client library accepts as is."""

    @abc.abstractmethod
    def env(self) -> dict[str, str]:
        """The ``TAMARCO_*`` environment variables that point a service at this one."""

    @abc.abstractmethod
    def is_ready(self) -> bool:
        """One quick readiness probe; ``False`` while the service is still starting."""

    def local_processes(self) -> list[ProcessSpec]:
        """The children the local backend starts, in order."""
        raise HarnessError(f"{self.kind}: the local backend is not supported")

    def docker_container(self) -> ContainerSpec:
        """The container the docker backend starts."""
        raise HarnessError(f"{self.kind}: the docker backend is not supported")

    def before_start(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Hook run before each launch (write config files, ...)."""

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner.alive()

    def start(self) -> None:
        """Start the service (no-op when running) and wait until it is ready."""
        with self._lock:
            if self._closed:
                raise HarnessError(f"{self.kind}: service was closed; create a new one")
            if self._runner.alive():
                return
            # A partly dead service (e.g. RabbitMQ's VM gone, its epmd still up): clear the
            # remains, which would otherwise hold the service's own ports.
            self._runner.kill()
            self._claim_ports()
            self.before_start()
            self._runner.launch()
            try:
                self.wait_for(self.is_ready, self.start_timeout, "to become ready")
            except BaseException:
                self._runner.kill()
                raise
            self._started_once = True

    def stop(self) -> None:
        """Stop the service gracefully; its address and data directory are kept."""
        with self._lock:
            self._runner.terminate()

    def kill(self) -> None:
        """Kill the service with SIGKILL (fault injection); ``start()`` brings it back."""
        with self._lock:
            self._runner.kill()

    def restart(self) -> None:
        """``stop()`` then ``start()``: the same address, ready when this returns."""
        with self._lock:
            self.stop()
            self.start()

    def close(self) -> None:
        """Stop the service and delete everything it left (container, temp directory)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._runner.terminate()
            finally:
                self._runner.remove()
                if self._own_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the service logged (all its processes, or the container)."""
        return self._runner.log_tail(lines)

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.backend} {self.host}:{self.port}>"

    # -- helpers for kinds and runners ---------------------------------------------------

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition`` until true; fail fast with the log tail if the service dies."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            if not self._runner.alive():
                raise ServiceStartError(
                    self.kind,
                    f"exited while waiting {what} ({self._runner.describe_exit()})",
                    self._runner.log_tail(),
                )
            if time.monotonic() >= deadline:
                raise ServiceStartError(
                    self.kind, f"not ready after {timeout:g} s waiting {what}", self._runner.log_tail()
                )
            time.sleep(0.05)

    def _claim_ports(self) -> None:
        for name, port in self.ports.items():
            if not port_is_bound(port, self.host):
                continue
            if self._started_once:
                # Our own killed process can hold its listening socket for a moment after it
                # is reaped (seen with RabbitMQ's VM under load): wait for the port, then
                # refuse, never attach to whoever still holds it.
                deadline = time.monotonic() + PORT_RELEASE_TIMEOUT
                while port_is_bound(port, self.host):
                    if time.monotonic() >= deadline:
                        raise PortInUseError(self.kind, self.host, port)
                    time.sleep(0.05)
                continue
            # Not started yet: nobody relies on this address, so take another port.
            new_port = free_port()
            while port_is_bound(new_port, self.host):
                new_port = free_port()
            self.ports[name] = new_port

"""Prometheus, scraping targets that tests add at run time."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import _binaries
from ._errors import HarnessError
from ._images import DEFAULT_IMAGES
from ._probes import http_get_json, http_ok
from ._process import ProcessSpec
from ._service import ContainerSpec, Service
from ._wait import wait_until

PROMETHEUS_IMAGE = DEFAULT_IMAGES["prometheus"]
SCRAPE_INTERVAL = "1s"
JOB_NAME = "harness"
#: Where the docker backend mounts the directory holding targets.json.
DOCKER_TARGETS = "/etc/harness/sd/targets.json"


class PrometheusService(Service):
    """Prometheus scraping every second the targets listed in a ``file_sd`` JSON file.

    ``add_target(host, port)`` rewrites that file atomically; Prometheus re-reads it every
    second, so a new target is queryable about 2 s later. Targets keep their labels
    ``job="harness"`` and ``instance="host:port"`` plus any ``labels`` given.

    With the docker backend on Linux the container uses the host network, so targets on
    127.0.0.1 of the test process are reachable; elsewhere loopback targets are rewritten
    to ``host.docker.internal`` and must listen on an address containers can reach.
    """

    kind = "prometheus"
    port_names = ("web",)
    start_timeout = 30.0

    def __init__(self, backend: str = "local", **kwargs: Any) -> None:
        super().__init__(backend, **kwargs)
        self._targets: dict[str, dict[str, str]] = {}
        self._write_targets()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "TAMARCO_PROMETHEUS_HOST": self.host,
            "TAMARCO_PROMETHEUS_PORT": str(self.port),
            "TAMARCO_PROMETHEUS_URL": self.url,
        }

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    @property
    def _host_network(self) -> bool:
        return self.backend == "docker" and sys.platform.startswith("linux")

    def config(self, targets_path: str) -> str:
        """The Prometheus configuration, reading targets from ``targets_path``."""
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": [
                {
                    "job_name": JOB_NAME,
                    "scrape_timeout": SCRAPE_INTERVAL,
                    "file_sd_configs": [{"files": [targets_path], "refresh_interval": "1s"}],
                }
            ],
        }
        return yaml.safe_dump(config)

    def before_start(self) -> None:
        path = DOCKER_TARGETS if self.backend == "docker" else str(self._targets_path)
        (self.workdir / "prometheus.yml").write_text(self.config(path))

    @property
    def _targets_path(self) -> Path:
        return self.workdir / "sd" / "targets.json"

    def local_processes(self) -> list[ProcessSpec]:
        argv = [
            _binaries.find_binary(_binaries.PROMETHEUS),
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--web.enable-lifecycle",
        ]
        return [ProcessSpec("prometheus", argv, cwd=self.workdir)]

    def docker_container(self) -> ContainerSpec:
        command = [
            "--config.file=/etc/harness/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--web.enable-lifecycle",
        ]
        volumes = [
            (str(self.workdir / "prometheus.yml"), "/etc/harness/prometheus.yml", "ro"),
            # The directory, not the file: a file mount would pin the inode that the
            # atomic replace in _write_targets swaps out.
            (str(self.workdir / "sd"), "/etc/harness/sd", "ro"),
        ]
        if self._host_network:
            command.append(f"--web.listen-address={self.host}:{self.port}")
            return ContainerSpec(image=self.image, command=command, volumes=volumes, network_mode="host")
        command.append("--web.listen-address=0.0.0.0:9090")
        return ContainerSpec(
            image=self.image,
            command=command,
            volumes=volumes,
            ports={9090: self.port},
            extra_hosts={"host.docker.internal": "host-gateway"},
        )

    # -- targets -------------------------------------------------------------------------

    def _address(self, host: str, port: int) -> str:
        if self.backend == "docker" and not self._host_network and host in ("127.0.0.1", "localhost"):
            host = "host.docker.internal"
        return f"{host}:{port}"

    def add_target(
        self, host: str, port: int, *, labels: dict[str, str] | None = None, metrics_path: str = "/metrics"
    ) -> str:
        """Scrape ``http://host:port{metrics_path}`` every second; returns its ``instance``."""
        instance = self._address(host, port)
        target_labels = dict(labels or {})
        if metrics_path != "/metrics":
            target_labels["__metrics_path__"] = metrics_path
        self._targets[instance] = target_labels
        self._write_targets()
        return instance

    def remove_target(self, host: str, port: int) -> None:
        """Stop scraping ``host:port``."""
        self._targets.pop(self._address(host, port), None)
        self._write_targets()

    def _write_targets(self) -> None:
        groups = [{"targets": [instance], "labels": labels} for instance, labels in self._targets.items()]
        sd_dir = self.workdir / "sd"
        sd_dir.mkdir(exist_ok=True)
        temporary = sd_dir / "targets.json.tmp"
        temporary.write_text(json.dumps(groups))
        os.replace(temporary, sd_dir / "targets.json")  # atomic: never a half-written file

    # -- queries -------------------------------------------------------------------------

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The ``data.result`` of an instant query (a list of ``{"metric", "value"}``)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        answer = http_get_json(url)
        if answer.get("status") != "success":
            raise HarnessError(f"prometheus: query {promql!r} failed: {answer}")
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def wait_for_query(
        self,
        promql: str,
        timeout: float = 15.0,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
    ) -> list[dict[str, Any]]:
        """Poll ``query(promql)`` until ``predicate(result)`` (default: non-empty) holds."""

        def attempt() -> tuple[list[dict[str, Any]]] | None:
            result = self.query(promql)
            return (result,) if predicate(result) else None  # a tuple: truthy even if empty

        (found,) = wait_until(attempt, timeout, interval=0.25, description=f"prometheus query {promql!r}")
        return found

    def targets(self) -> list[dict[str, Any]]:
        """The active targets as Prometheus reports them (with ``health`` and ``lastError``)."""
        answer = http_get_json(f"{self.url}/api/v1/targets?state=active")
        active: list[dict[str, Any]] = answer["data"]["activeTargets"]
        return active

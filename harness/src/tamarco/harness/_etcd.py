"""etcd v3."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from tamarco.core.etcd import prefix_range_end  # the core's key mapping, not a copy

from . import _binaries
from ._images import DEFAULT_IMAGES
from ._probes import http_ok
from ._process import ProcessSpec
from ._service import ContainerSpec, Service

ETCD_IMAGE = DEFAULT_IMAGES["etcd"]


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


class EtcdService(Service):
    """etcd with the v3 API on ``host:port``.

    ``put``/``get``/``delete_prefix`` use etcd's JSON gateway, so fixtures can seed and
    clean keys without an etcd client library; tests use ``aetcd`` against ``host``/``port``.
    """

    kind = "etcd"
    port_names = ("client", "peer")
    start_timeout = 20.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"TAMARCO_ETCD_HOST": self.host, "TAMARCO_ETCD_PORT": str(self.port)}

    def is_ready(self) -> bool:
        return http_ok(f"{self.url}/health", lambda body: b'"health":"true"' in body)

    def local_processes(self) -> list[ProcessSpec]:
        peer = f"http://{self.host}:{self.ports['peer']}"
        return [etcd_process("harness", self, initial_cluster=f"harness={peer}")]

    def docker_container(self) -> ContainerSpec:
        return ContainerSpec(
            image=self.image,
            command=[
                "etcd",
                "--name",
                "harness",
                "--data-dir",
                "/etcd-data",
                "--listen-client-urls",
                "http://0.0.0.0:2379",
                "--advertise-client-urls",
                f"http://{self.host}:{self.port}",
            ],
            ports={2379: self.port},
        )

    # -- the JSON gateway ----------------------------------------------------------------

    def _call(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/v3/{endpoint}",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            result: dict[str, Any] = json.loads(response.read().decode())
        return result

    def put(self, key: str, value: str | bytes) -> None:
        """Store ``value`` at ``key``."""
        self._call("kv/put", {"key": _b64(key), "value": _b64(value)})

    def get(self, key: str) -> str | None:
        """The value at ``key`` as text (what :meth:`put` stored, decoded as UTF-8), or ``None``."""
        value = self.get_bytes(key)
        return None if value is None else value.decode()

    def get_bytes(self, key: str) -> bytes | None:
        """The value at ``key`` as stored, or ``None`` (for values that are not UTF-8 text)."""
        kvs = self._call("kv/range", {"key": _b64(key)}).get("kvs", [])
        return base64.b64decode(kvs[0].get("value", "")) if kvs else None

    def get_prefix(self, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` with its value as text."""
        raw = prefix.encode()
        result = self._call("kv/range", {"key": _b64(raw), "range_end": _b64(prefix_range_end(raw))})
        return {
            base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
            for kv in result.get("kvs", [])
        }

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix``; returns how many were deleted."""
        raw = prefix.encode()
        result = self._call("kv/deleterange", {"key": _b64(raw), "range_end": _b64(prefix_range_end(raw))})
        return int(result.get("deleted", 0))


def etcd_process(name: str, member: Service, initial_cluster: str, *extra: str) -> ProcessSpec:
    """The local etcd process of ``member`` (its host, client and peer ports, work dir), one
    member named ``name`` of the cluster ``initial_cluster`` (``name=peer-url,...``)."""
    argv = etcd_command(_binaries.find_binary(_binaries.ETCD), name, member, str(member.workdir / "data"))
    argv += ["--initial-cluster", initial_cluster, *extra, *_NEW_CLUSTER]
    # etcd 3.4 refuses to run on arm64 unless told so; the variable is ignored elsewhere.
    return ProcessSpec("etcd", argv, env={"ETCD_UNSUPPORTED_ARCH": "arm64"})


#: Ignored once the data directory exists (a member started again).
_NEW_CLUSTER = ("--initial-cluster-state", "new")


def etcd_container(name: str, member: Service, initial_cluster: str, *extra: str) -> ContainerSpec:
    """``member`` as a container on the host network: the same flags as :func:`etcd_process`,
    so members reach each other's peer ports on loopback as local processes do."""
    command = etcd_command("etcd", name, member, "/etcd-data")
    command += ["--initial-cluster", initial_cluster, *extra, *_NEW_CLUSTER]
    return ContainerSpec(image=member.image, command=command, network_mode="host")


def etcd_command(binary: str, name: str, member: Service, data_dir: str) -> list[str]:
    """etcd's flags for ``member`` listening on its host's client and peer ports."""
    client = f"http://{member.host}:{member.port}"
    peer = f"http://{member.host}:{member.ports['peer']}"
    return [
        binary,
        "--name",
        name,
        "--data-dir",
        data_dir,
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
    ]

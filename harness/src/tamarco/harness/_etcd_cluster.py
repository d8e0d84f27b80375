"""A three-member etcd cluster on loopback ports, for fault tests (kill the leader, ...).

::

    with EtcdClusterService() as cluster:          # local backend: three etcd processes
        env = cluster.env()                        # TAMARCO_ETCD_HOST=<every member>
        leader = cluster.leader()
        cluster.kill(leader)                       # SIGKILL; the other two elect a new leader
        cluster.wait_for_leader()
        cluster.start_member(leader)               # back at the same address, with its data

Each member is an :class:`EtcdMember`, a :class:`~tamarco.harness.Service` with its own client
and peer ports, data directory and log; every member is started with ``--initial-cluster`` of
all three. Members start in parallel (a member is ready only once a quorum elected a leader).
With the docker backend each member is a container on the host network with the same flags
(its data stays in the container, so a killed member comes back with it).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ._errors import HarnessError
from ._etcd import EtcdService, etcd_container, etcd_process
from ._process import ProcessSpec
from ._service import ContainerSpec
from ._wait import wait_until

__all__ = ["EtcdClusterService", "EtcdMember"]

#: etcd's defaults (100 ms heartbeat, 1 s election timeout): a new leader in 1-3 s.
LEADER_TIMEOUT = 15.0


class EtcdMember(EtcdService):
    """One member of an :class:`EtcdClusterService` (``name`` is ``member0``, ``member1``...)."""

    kind = "etcd"

    def __init__(self, cluster: EtcdClusterService, index: int, backend: str = "local", **options: Any) -> None:
        self.cluster = cluster
        self.index = index
        self.name = f"member{index}"
        workdir = cluster.workdir / self.name
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(backend, workdir=workdir, **options)

    def local_processes(self) -> list[ProcessSpec]:
        initial = self.cluster.initial_cluster()
        return [etcd_process(self.name, self, initial, "--initial-cluster-token", self.cluster.token)]

    def docker_container(self) -> ContainerSpec:
        initial = self.cluster.initial_cluster()
        return etcd_container(self.name, self, initial, "--initial-cluster-token", self.cluster.token)

    def status(self) -> dict[str, Any] | None:
        """etcd's maintenance status of this member (``member_id``, ``leader``...), or None if down."""
        request = urllib.request.Request(
            f"{self.url}/v3/maintenance/status", data=b"{}", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:
                result: dict[str, Any] = json.loads(response.read().decode())
        except (OSError, urllib.error.URLError, ValueError):
            return None
        return result

    def __repr__(self) -> str:
        return f"<EtcdMember {self.name} {self.host}:{self.port}>"


class EtcdClusterService:
    """Three etcd members on loopback (processes or containers), reachable as one etcd.

    ``env()`` gives ``TAMARCO_ETCD_HOST`` as the comma list of every member, which
    :mod:`tamarco.core.etcd` accepts; ``put``/``get``/``get_prefix``/``delete_prefix`` go through
    any running member. Fault injection: :meth:`leader`, :meth:`kill`, :meth:`start_member`.
    """

    kind = "etcd-cluster"

    def __init__(self, backend: str = "local", *, size: int = 3, **options: Any) -> None:
        """``options``: ``image`` and ``docker_environment``, as for every :class:`Service`."""
        if size < 1:
            raise HarnessError(f"etcd cluster: size must be at least 1, got {size}")
        self.backend = backend
        self.workdir = Path(tempfile.mkdtemp(prefix="tamarco-harness-etcd-cluster-"))
        self.token = self.workdir.name
        self.members: list[EtcdMember] = []
        try:
            for index in range(size):
                self.members.append(EtcdMember(self, index, backend, **options))
        except BaseException:
            self.close()
            raise

    # -- addresses ------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.members[0].host

    @property
    def endpoints(self) -> str:
        """``host:port`` of every member, comma-separated (what ``TAMARCO_ETCD_HOST`` takes)."""
        return ",".join(f"{member.host}:{member.port}" for member in self.members)

    def initial_cluster(self) -> str:
        return ",".join(f"{m.name}=http://{m.host}:{m.ports['peer']}" for m in self.members)

    def env(self) -> dict[str, str]:
        return {"TAMARCO_ETCD_HOST": self.endpoints}

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return all(member.running for member in self.members)

    def start(self) -> None:
        """Start every member that is not running, in parallel; ready when each one is."""
        errors: list[BaseException] = []

        def start(member: EtcdMember) -> None:
            try:
                member.start()
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=start, args=(member,), name=f"tamarco-harness-etcd-{member.name}", daemon=True)
            for member in self.members
            if not member.running
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def start_member(self, member: EtcdMember) -> None:
        """Start one (killed or stopped) member again, at its address and with its data."""
        member.start()

    def kill(self, member: EtcdMember) -> None:
        """SIGKILL one member."""
        member.kill()

    def stop(self) -> None:
        for member in reversed(self.members):
            member.stop()

    def close(self) -> None:
        errors: list[BaseException] = []
        for member in reversed(self.members):
            try:
                member.close()
            except Exception as error:
                errors.append(error)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> EtcdClusterService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EtcdClusterService {self.backend} {self.endpoints}>"

    # -- leadership -----------------------------------------------------------------------

    def leader(self) -> EtcdMember | None:
        """The member the running members agree is the leader, or None (no quorum, election)."""
        statuses = {member.name: member.status() for member in self.members if member.running}
        ids = {name: str(status["header"]["member_id"]) for name, status in statuses.items() if status}
        leaders = {str(status.get("leader")) for status in statuses.values() if status}
        if len(leaders) != 1:
            return None
        leader_id = leaders.pop()
        for member in self.members:
            if ids.get(member.name) == leader_id:
                return member
        return None

    def wait_for_leader(self, timeout: float = LEADER_TIMEOUT) -> EtcdMember:
        """The leader, once the running members agree on one."""
        return wait_until(self.leader, timeout, interval=0.1, description="the etcd members to agree on a leader")

    # -- keys, through any running member -------------------------------------------------

    def _any(self, call: str, *args: Any) -> Any:
        last: Exception | None = None
        for member in self.members:
            if not member.running:
                continue
            try:
                return getattr(member, call)(*args)
            except (OSError, urllib.error.URLError) as error:
                last = error
        raise HarnessError(f"etcd cluster: no member answered {call} ({last})")

    def put(self, key: str, value: str | bytes) -> None:
        self._any("put", key, value)

    def get(self, key: str) -> str | None:
        result: str | None = self._any("get", key)
        return result

    def get_bytes(self, key: str) -> bytes | None:
        result: bytes | None = self._any("get_bytes", key)
        return result

    def get_prefix(self, prefix: str) -> dict[str, str]:
        result: dict[str, str] = self._any("get_prefix", prefix)
        return result

    def delete_prefix(self, prefix: str) -> int:
        return int(self._any("delete_prefix", prefix))

"""EtcdClusterService without starting it: members, addresses, flags, the docker backend refused."""

from __future__ import annotations

import pytest
from tamarco.harness import EtcdClusterService, HarnessError, _binaries


def test_three_members_each_started_with_the_whole_cluster(monkeypatch):
    monkeypatch.setattr(_binaries, "find_binary", lambda binary: "/usr/bin/etcd")
    cluster = EtcdClusterService()
    try:
        assert [m.name for m in cluster.members] == ["member0", "member1", "member2"]
        ports = {port for m in cluster.members for port in m.ports.values()}
        assert len(ports) == 6  # a client and a peer port each, all different
        assert cluster.env() == {"TAMARCO_ETCD_HOST": cluster.endpoints}
        assert cluster.endpoints == ",".join(f"127.0.0.1:{m.port}" for m in cluster.members)
        for member in cluster.members:
            [spec] = member.local_processes()
            argv = list(spec.argv)
            assert argv[argv.index("--name") + 1] == member.name
            assert argv[argv.index("--initial-cluster") + 1] == cluster.initial_cluster()
            assert argv[argv.index("--initial-cluster-token") + 1] == cluster.token
            assert str(member.workdir).startswith(str(cluster.workdir))
        assert cluster.leader() is None  # nothing runs
        workdir = cluster.workdir
    finally:
        cluster.close()
    assert not workdir.exists()


def test_the_docker_backend_is_refused_with_a_clear_error():
    with pytest.raises(HarnessError, match="docker backend is not supported yet"):
        EtcdClusterService("docker")

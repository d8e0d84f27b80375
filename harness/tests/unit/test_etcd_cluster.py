"""EtcdClusterService without starting it: members, addresses, flags of processes and containers."""

from __future__ import annotations

from tamarco.harness import EtcdClusterService, _binaries


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


def test_docker_members_run_the_same_flags_on_the_host_network(monkeypatch):
    monkeypatch.setattr(_binaries, "find_binary", lambda binary: "/usr/bin/etcd")
    cluster = EtcdClusterService(image="example/etcd:1")
    try:
        for member in cluster.members:
            [process] = member.local_processes()
            spec = member.docker_container()
            assert spec.image == "example/etcd:1" and spec.network_mode == "host" and not spec.ports
            assert spec.command is not None and spec.command[0] == "etcd"
            data_dir = spec.command.index("--data-dir") + 1
            local = list(process.argv[1:])
            local[data_dir - 1] = "/etcd-data"
            assert spec.command[1:] == local  # the same flags, the data dir inside the container
    finally:
        cluster.close()

"""The three-member etcd cluster: a leader, a new one after a kill, a member that comes back."""

from __future__ import annotations

import time

import pytest
from tamarco.core.etcd import RETRYABLE_ERRORS, EtcdConnectionConfig, request

pytestmark = [pytest.mark.functional, pytest.mark.harness_backends("local", "docker")]


def test_killing_the_leader_elects_another_and_the_member_catches_up(etcd_cluster_service, unique_name):
    cluster = etcd_cluster_service
    etcd_prefix = f"/tamarco-harness/{unique_name}/"
    assert cluster.running and len(cluster.members) == 3
    assert cluster.env()["TAMARCO_ETCD_HOST"].count(",") == 2
    leader = cluster.wait_for_leader()

    killed_at = time.monotonic()
    cluster.kill(leader)
    assert not leader.running
    new_leader = cluster.wait_for_leader()
    print(f"new leader {new_leader.name} after {time.monotonic() - killed_at:.2f} s")
    assert new_leader is not leader

    cluster.put(f"{etcd_prefix}during", "outage")
    cluster.start_member(leader)
    assert cluster.running
    assert leader.get(f"{etcd_prefix}during") == "outage"  # replicated to the member that was down
    cluster.delete_prefix(etcd_prefix)


async def test_the_core_client_moves_to_another_member(etcd_cluster_service, unique_name):
    cluster = etcd_cluster_service
    etcd_prefix = f"/tamarco-harness/{unique_name}/"
    first = cluster.members[0]
    config = EtcdConnectionConfig.from_environment({**cluster.env(), "TAMARCO_ETCD_TIMEOUT": "2"})
    client = config.client()
    key = f"{etcd_prefix}moved".encode()
    try:
        await request(client.put(key, b"before"), config, "put")
        cluster.kill(first)  # the member gRPC picked first
        deadline = time.monotonic() + 20
        while True:
            try:
                await request(client.put(key, b"after"), config, "put")
                break
            except RETRYABLE_ERRORS:
                if time.monotonic() > deadline:
                    raise
        result = await request(client.get(key), config, "get")
        assert result is not None and result.value == b"after"
    finally:
        await client.close()
        cluster.start_member(first)
        cluster.delete_prefix(etcd_prefix)

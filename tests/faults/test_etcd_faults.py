"""etcd faults, with a service in a subprocess watching its settings and registered in etcd.

- a three-member cluster loses its leader (the member the service talks to);
- a single etcd is SIGKILLed and started again, with changes made during the outage.

Every change is a new key under ``system.faults``, so each one must be seen by the service's
watch: the counts are sent, handled (seen), duplicates (seen more than once) and lost.
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.functional

TTL_SECONDS = 10


def base_settings() -> dict:
    return {
        "system": {
            "shutdown_timeout_seconds": 10,
            "resources": {
                "http_server": {"port": 0},
                "tamarco_http_report_server": {"port": 0},
                "registry": {"enabled": True, "ttl_seconds": TTL_SECONDS},
            },
        }
    }


def change_key(prefix: str, index: int) -> str:
    return f"{prefix}system/faults/k{index:03d}"


def seen_name(index: int) -> str:
    return f"system.faults.k{index:03d}={index}"


def wait_all_seen(service, faults, sent: int, timeout: float = 20.0):
    expected = {seen_name(i) for i in range(sent)}
    faults.poll(lambda: expected <= set(faults.seen_counts(service)), timeout, f"the service to see {sent} changes")
    counts = faults.seen_counts(service)
    handled = len(expected & set(counts))
    duplicates = sum(n - 1 for key, n in counts.items() if key in expected)
    return handled, duplicates, sent - handled


def registered(store, prefix: str) -> dict[str, str]:
    return store.get_prefix(f"{prefix}discovery/fault_service/")


def test_leader_killed_every_change_reaches_the_service_and_the_registration_survives(
    etcd_cluster_service, unique_name, fault_service, faults
):
    cluster = etcd_cluster_service
    prefix = f"/faults/{unique_name}/"
    faults.put_tree(cluster, prefix, base_settings())
    leader = cluster.wait_for_leader()
    # The leader first: gRPC connects to the first member that answers, so the service's
    # settings watch and registry lease run through the member that is killed.
    members = [leader, *[m for m in cluster.members if m is not leader]]
    env = {
        "TAMARCO_ETCD_HOST": ",".join(f"{m.host}:{m.port}" for m in members),
        "TAMARCO_ETCD_PREFIX": prefix,
        "TAMARCO_ETCD_TIMEOUT": "2",
    }
    service = fault_service(env=env)
    service.wait_for(r"^WATCHING", 30)
    entry = faults.poll(lambda: registered(cluster, prefix), 10, "the registry entry")

    sent = 0
    for _ in range(10):
        cluster.put(change_key(prefix, sent), json.dumps(sent))
        sent += 1
    killed_at = time.monotonic()
    cluster.kill(leader)
    waits = []
    for _ in range(20):  # during the election: each put waits until a new leader takes it
        waits.append(faults.put_retrying(cluster, change_key(prefix, sent), json.dumps(sent)))
        sent += 1
    new_leader = cluster.wait_for_leader()
    election = time.monotonic() - killed_at
    for _ in range(10):
        cluster.put(change_key(prefix, sent), json.dumps(sent))
        sent += 1
    cluster.start_member(leader)
    for _ in range(10):
        cluster.put(change_key(prefix, sent), json.dumps(sent))
        sent += 1

    handled, duplicates, lost = wait_all_seen(service, faults, sent)
    faults.report_counts(
        "etcd leader killed",
        sent=sent,
        handled=handled,
        duplicates=duplicates,
        lost=lost,
        writes_again_after_s=f"{election:.2f}",
        longest_put_wait_s=f"{max(waits):.2f}",
        new_leader=new_leader.name,
        watch_reconnections=service.count(r"lost the connection to etcd"),
    )
    assert new_leader is not leader
    assert (handled, lost) == (sent, 0)
    # The registration outlived the election and is the same entry on the same lease: never
    # expired, never registered again.
    assert registered(cluster, prefix) == entry
    assert service.count("registering again") == 0
    assert service.terminate(20) == 0, service.output
    assert registered(cluster, prefix) == {}  # deregistered on stop
    cluster.delete_prefix(prefix)


def test_single_etcd_killed_and_restarted_changes_made_meanwhile_are_seen(
    etcd_service, etcd_prefix, fault_service, faults
):
    faults.put_tree(etcd_service, etcd_prefix, base_settings())
    env = {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix, "TAMARCO_ETCD_TIMEOUT": "1"}
    service = fault_service(env=env)
    service.wait_for(r"^WATCHING", 30)
    report = faults.logged_url(service, "report server")
    faults.poll(lambda: registered(etcd_service, etcd_prefix), 10, "the registry entry")

    sent = 0
    for _ in range(5):
        etcd_service.put(change_key(etcd_prefix, sent), json.dumps(sent))
        sent += 1
    faults.poll(lambda: seen_name(sent - 1) in faults.seen_counts(service), 10, "the changes before the outage")

    code, body = faults.http_get(f"{report}/status")
    assert json.loads(body)["settings_source"]["state"] == "ok"
    etcd_service.kill()
    down_at = time.monotonic()
    service.wait_for(r"lost the connection to etcd", 15)
    # While etcd is down the service keeps running on its cached settings, and says so.
    code, body = faults.http_get(f"{report}/status")
    status_during_outage = json.loads(body)
    assert status_during_outage["state"] == "running"
    assert status_during_outage["settings_source"]["state"] == "degraded"
    assert status_during_outage["settings_source"]["source"]
    etcd_service.start()
    for _ in range(10):  # made before the service is back on its watch
        etcd_service.put(change_key(etcd_prefix, sent), json.dumps(sent))
        sent += 1
    service.wait_for(r"reachable again", 20)
    outage = time.monotonic() - down_at
    for _ in range(5):
        etcd_service.put(change_key(etcd_prefix, sent), json.dumps(sent))
        sent += 1

    handled, duplicates, lost = wait_all_seen(service, faults, sent)
    faults.report_counts(
        "etcd killed and restarted",
        sent=sent,
        handled=handled,
        duplicates=duplicates,
        lost=lost,
        outage_s=f"{outage:.2f}",
        status_during_outage=code,
        settings_source_during_outage=status_during_outage["settings_source"]["state"],
    )
    assert (handled, lost) == (sent, 0)
    assert faults.poll(lambda: registered(etcd_service, etcd_prefix), TTL_SECONDS + 5, "the registry entry back")
    settings_source = json.loads(faults.http_get(f"{report}/status")[1])["settings_source"]
    assert settings_source["state"] == "ok"
    assert service.terminate(20) == 0, service.output

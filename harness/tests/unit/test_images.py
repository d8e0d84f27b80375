"""Which image the docker backend runs: the variable, else the ini option, else upstream."""

from __future__ import annotations

import pytest
from tamarco.harness import EtcdClusterService, Harness, RedisService
from tamarco.harness._images import DEFAULT_IMAGES, image_for, image_variable


@pytest.fixture(autouse=True)
def no_image_variables(monkeypatch):
    for name in DEFAULT_IMAGES:
        monkeypatch.delenv(image_variable(name), raising=False)


def test_the_defaults_are_the_upstream_images():
    assert image_for("redis") == "redis:7-alpine"
    assert image_for("etcd") == "quay.io/coreos/etcd:v3.5.17"
    assert image_for("kafka_durable") == image_for("kafka") == "apache/kafka:3.8.1"
    assert image_variable("kafka_durable") == "TAMARCO_HARNESS_IMAGE_KAFKA_DURABLE"


def test_the_variable_wins_over_the_configured_image(monkeypatch):
    assert image_for("redis", {"redis": "mirror.example/redis:7"}) == "mirror.example/redis:7"
    monkeypatch.setenv("TAMARCO_HARNESS_IMAGE_REDIS", "local/redis:1")
    assert image_for("redis", {"redis": "mirror.example/redis:7"}) == "local/redis:1"
    monkeypatch.setenv("TAMARCO_HARNESS_IMAGE_REDIS", "  ")  # blank: not set
    assert image_for("redis") == "redis:7-alpine"


def test_services_and_harnesses_carry_their_image(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_IMAGE_ETCD", "local/etcd:1")
    redis = RedisService("local", image="given/redis:2")
    cluster = EtcdClusterService()
    try:
        assert redis.image == "given/redis:2" and redis.docker_container().image == "given/redis:2"
        assert {member.image for member in cluster.members} == {"local/etcd:1"}
    finally:
        redis.close()
        cluster.close()
    harness = Harness("local", images={"redis": "mirror.example/redis:7", "etcd": "mirror.example/etcd:3"})
    try:
        assert harness.image("redis") == "mirror.example/redis:7"
        assert harness.image("etcd") == "local/etcd:1"  # the variable wins
    finally:
        harness.close()

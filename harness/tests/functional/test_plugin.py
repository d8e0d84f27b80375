"""The pytest plugin as a downstream project uses it: a separate pytest run on the example."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tamarco.harness import DockerUnavailableError, wait_until
from tamarco.harness._backend import check_docker
from tamarco.harness._images import image_for, image_variable
from tamarco.harness._probes import redis_ping, tcp_open
from tamarco.harness.pytest_plugin import REQUIRE_DOCKER_VARIABLE

pytestmark = pytest.mark.functional

EXAMPLE = Path(__file__).parents[2] / "examples" / "downstream_project"


def run_pytest(cwd: Path, *args: str, backend: str = "local") -> subprocess.CompletedProcess[str]:
    # Its own TMPDIR: the harness's temp directories must all be gone afterwards.
    tmpdir = cwd / "tmp"
    tmpdir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=170,
        env={**os.environ, "TAMARCO_HARNESS_BACKEND": backend, "TMPDIR": str(tmpdir)},
        check=False,
    )


def docker_or_skip() -> None:
    try:
        check_docker()
    except DockerUnavailableError as error:
        if os.environ.get(REQUIRE_DOCKER_VARIABLE, "") not in ("", "0"):
            raise
        pytest.skip(str(error))


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_the_downstream_example_passes_with_the_installed_plugin(tmp_path, backend):
    if backend == "docker":
        docker_or_skip()
    project = tmp_path / "downstream_project"
    shutil.copytree(EXAMPLE, project)
    # A project of its own, outside this repository, with the pytest config the README gives
    # (asyncio mode and loop scope): pytest-asyncio has nothing to warn about.
    assert "asyncio_default_fixture_loop_scope" in (project / "pytest.ini").read_text()
    result = run_pytest(
        project,
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
        "-W",
        "error::pytest.PytestDeprecationWarning",
        backend=backend,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert not list((project / "tmp").glob("tamarco-harness-*"))
    # The summary names each service's backend; on docker, the image its variable names.
    for name in ("etcd", "redis", "prometheus"):
        used = f"{name} on {backend}" + (f" ({image_for(name)})" if backend == "docker" else "")
        assert used in result.stdout, result.stdout


def test_ini_options_choose_the_backend_and_the_images(tmp_path, monkeypatch):
    docker_or_skip()
    image = image_for("redis")  # what this run uses: the variable, else the upstream image
    monkeypatch.delenv(image_variable("redis"), raising=False)
    ini = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    ini += f"harness_backend = docker\nharness_image_redis = {image}\n"
    (tmp_path / "pytest.ini").write_text(ini)
    (tmp_path / "test_ini.py").write_text(
        "def test_redis(redis_service):\n    assert redis_service.backend == 'docker'\n"
    )
    result = run_pytest(tmp_path, "-v", backend="")  # -q -v: the default verbosity, with the header
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tamarco-harness: session backend docker" in result.stdout
    assert f"redis on docker ({image})" in result.stdout


def test_fixtures_are_listed(tmp_path):
    result = run_pytest(tmp_path, "--fixtures")
    for name in (
        "etcd_service",
        "rabbitmq_service",
        "kafka_service",
        "redis_service",
        "prometheus_service",
        "carbon_service",
        "logstash_service",
        "etcd_prefix",
        "rabbitmq_vhost",
        "kafka_topic",
        "unique_name",
        "free_port",
    ):
        assert name in result.stdout, name


INTERRUPTED_TEST = """
import pathlib, threading

def test_waits_forever(redis_service):
    pathlib.Path("port").write_text(str(redis_service.port))
    threading.Event().wait(120)
"""


def test_a_sigterm_to_pytest_stops_the_services(tmp_path):
    (tmp_path / "test_interrupted.py").write_text(INTERRUPTED_TEST)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_interrupted.py"],
        cwd=tmp_path,
        env={**os.environ, "TAMARCO_HARNESS_BACKEND": "local", "TMPDIR": str(tmpdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        port_file = tmp_path / "port"
        wait_until(port_file.exists, 30, description="the inner test to start")
        port = int(port_file.read_text())
        assert redis_ping("127.0.0.1", port)
        inner.send_signal(signal.SIGTERM)
        output, _ = inner.communicate(timeout=30)
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait()
    assert inner.returncode == 2, output  # pytest's "interrupted"
    assert not tcp_open("127.0.0.1", port)
    assert not list(tmpdir.glob("tamarco-harness-*"))

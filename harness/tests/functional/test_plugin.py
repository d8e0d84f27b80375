"""The pytest plugin as a downstream project uses it: a separate pytest run on the example."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tamarco.harness import wait_until
from tamarco.harness._probes import redis_ping, tcp_open

pytestmark = pytest.mark.functional

EXAMPLE = Path(__file__).parents[2] / "examples" / "downstream_project"


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own TMPDIR: the harness's temp directories must all be gone afterwards.
    tmpdir = cwd / "tmp"
    tmpdir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=170,
        env={**os.environ, "TAMARCO_HARNESS_BACKEND": "local", "TMPDIR": str(tmpdir)},
        check=False,
    )


def test_the_downstream_example_passes_with_the_installed_plugin(tmp_path):
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
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    assert not list((project / "tmp").glob("tamarco-harness-*"))


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

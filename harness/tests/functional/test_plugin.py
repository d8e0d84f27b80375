"""The pytest plugin as a downstream project uses it: a separate pytest run on the example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    # A project of its own: its own pytest config (asyncio mode), outside this repository.
    (project / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    result = run_pytest(project, "-W", "error::pytest.PytestUnraisableExceptionWarning")
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

"""`./dev docker` after `./dev test` prepared the engine: a check that builds nothing and names
images the engine has, for every service with a local image."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tamarco.harness._docker import docker_client
from tamarco.harness._images import image_variable
from tamarco.harness.pytest_plugin import REQUIRE_DOCKER_VARIABLE

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(
        os.environ.get(REQUIRE_DOCKER_VARIABLE, "") in ("", "0"),
        reason="run by ./dev test, after its ./dev docker (elsewhere it would install and start an engine)",
    ),
]

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".harness" / "docker.env"
LOCAL_IMAGES = ("etcd", "rabbitmq", "redis", "prometheus", "carbon", "kafka", "logstash")


def test_a_second_run_builds_nothing_and_names_the_same_images():
    before = ENV_FILE.read_text()
    result = subprocess.run(["./dev", "docker"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "building" not in result.stderr and "starting containerd" not in result.stderr, result.stderr
    assert ENV_FILE.read_text() == before
    names = dict(
        line.removeprefix("export ").split("=", 1) for line in before.splitlines() if line.startswith("export ")
    )
    engine = docker_client()
    for service in LOCAL_IMAGES:
        image = names[image_variable(service)]
        assert image == os.environ[image_variable(service)]  # what ./dev test's services run
        assert engine.images.get(image).tags

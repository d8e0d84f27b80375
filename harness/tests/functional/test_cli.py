"""``tamarco-harness up`` / ``down``, as a developer runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from tamarco.harness import wait_until
from tamarco.harness._probes import redis_ping, tcp_open

pytestmark = pytest.mark.functional

CLI = [sys.executable, "-m", "tamarco.harness.cli"]


def test_up_prints_variables_and_down_stops_everything(tmp_path):
    env = {
        **os.environ,
        "TAMARCO_HARNESS_STATE": str(tmp_path / "up.json"),
        "TAMARCO_HARNESS_BACKEND": "local",
    }
    up = subprocess.Popen(
        [*CLI, "up", "redis", "etcd"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert up.stdout is not None
        exports = {}
        for line in up.stdout:
            if line.startswith("#"):
                break
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
        assert {"TAMARCO_ETCD_HOST", "TAMARCO_ETCD_PORT", "TAMARCO_REDIS_PORT"} <= set(exports)
        redis_port = int(exports["TAMARCO_REDIS_PORT"])
        assert redis_ping("127.0.0.1", redis_port)

        status = subprocess.run([*CLI, "status"], env=env, capture_output=True, text=True, check=False)
        assert status.returncode == 0
        assert f"export TAMARCO_REDIS_PORT={redis_port}" in status.stdout

        again = subprocess.run([*CLI, "up", "redis"], env=env, capture_output=True, text=True, check=False)
        assert again.returncode == 1 and "already up" in again.stderr

        down = subprocess.run([*CLI, "down"], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert down.returncode == 0, down.stderr
        assert up.wait(timeout=10) == 0
        assert not tcp_open("127.0.0.1", redis_port)
        assert not (tmp_path / "up.json").exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()


def test_up_rejects_an_unknown_service(tmp_path):
    result = subprocess.run([*CLI, "up", "mongodb"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "unknown service(s) mongodb" in result.stderr


def test_interrupted_up_cleans_up(tmp_path):
    env = {**os.environ, "TAMARCO_HARNESS_STATE": str(tmp_path / "up.json")}
    up = subprocess.Popen([*CLI, "up", "--backend", "local", "redis"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert up.stdout is not None
        port = next(int(line.split("=")[1]) for line in up.stdout if "TAMARCO_REDIS_PORT" in line)
        wait_until(lambda: (tmp_path / "up.json").exists(), 10)
        up.send_signal(signal.SIGINT)  # Ctrl-C
        assert up.wait(timeout=30) == 0
        assert not tcp_open("127.0.0.1", port)
        assert not (tmp_path / "up.json").exists()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()

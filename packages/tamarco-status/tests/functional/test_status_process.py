"""The restart-microservice policy ends a real process with a non-zero exit code."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

import pytest

SERVICE = Path(__file__).parent / "services" / "status_service.py"

pytestmark = pytest.mark.functional


def start(tmp_path, status_settings):
    settings = {
        "system": {
            "logging": {"profile": "PRODUCTION"},
            "resources": {"tamarco_http_report_server": {"port": 0}, "status": status_settings},
        }
    }
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings))  # JSON is YAML
    return subprocess.Popen(
        [sys.executable, str(SERVICE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_YML_FILE": str(settings_file)},
    )


def read_until(process, marker, timeout=20):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"service ended before {marker!r}:\n{''.join(lines)}")
        lines.append(line)
        if marker in line:
            return line
    pytest.fail(f"{marker!r} not seen in {timeout}s:\n{''.join(lines)}")


def http(method, url):
    try:
        with urlopen(Request(url, method=method), timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except Exception as error:  # HTTPError carries the code and body
        return error.code, json.loads(error.read() or b"null")


def test_restart_microservice_policy_exits_non_zero(tmp_path):
    process = start(tmp_path, {"restart_policy": {"resources": {"restart_microservice_on_failure": ["db"]}}})
    try:
        url = read_until(process, "READY").split()[-1]
        code, body = http("GET", url + "/status")
        assert code == 200, body
        assert http("POST", url + "/test/fail/db")[0] == 200
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 1, output
    assert (
        "restart policy restart_microservice_on_failure: resource db FAILED (ConnectionError: db: connection lost)"
        in output
    )
    assert "lifecycle: stopped (exit code 1)" in output


def test_a_policy_naming_an_unknown_resource_is_a_warning_and_the_service_serves(tmp_path):
    process = start(tmp_path, {"restart_policy": {"resources": {"restart_resource_on_failure": ["redis", "db"]}}})
    try:
        warning = read_until(process, "restart_resource_on_failure names 'redis'")
        url = read_until(process, "READY").split()[-1]
        code, body = http("GET", url + "/status")
        assert code == 200, body
        process.terminate()
        output, _ = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, output
    assert "WARNING" in warning and "system.resources.status.restart_policy.resources" in warning

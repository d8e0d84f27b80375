"""Every example in examples/ runs as written (the demo and HTTP examples have their own tests)."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = "system:\n  logging:\n    profile: DEVELOP\n  resources:\n    tamarco_http_report_server:\n      port: 0\n"


class Example:
    """An example service run in a subprocess, its output read line by line."""

    def __init__(self, name, tmp_path):
        settings = tmp_path / "settings.yml"
        settings.write_text(SETTINGS)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / name / "microservice.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_YML_FILE": str(settings)},
        )
        self.lines = []

    def wait_for(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"{pattern!r} not printed:\n{''.join(self.lines)}")

    def interrupt(self):
        self.process.send_signal(signal.SIGINT)
        rest, _ = self.process.communicate(timeout=30)
        self.lines.extend(rest.splitlines(keepends=True))
        return self.process.returncode, "".join(self.lines)

    def kill(self):
        self.process.kill()
        self.process.wait()


@pytest.fixture
def example(tmp_path):
    started = []

    def run(name):
        started.append(Example(name, tmp_path))
        return started[-1]

    yield run
    for item in started:
        item.kill()


def test_lifecycle_example_prints_around_every_hook(example):
    service = example("lifecycle")
    service.wait_for("After post_start of the service")
    code, output = service.interrupt()
    assert code == 0, output
    printed = [line.strip() for line in output.splitlines() if "of the service" in line]
    hooks = ["pre_start", "start", "post_start", "stop", "post_stop"]
    assert printed == [f"{when} {hook} of the service" for hook in hooks for when in ("Before", "After")]


def test_logging_example_logs_extra_logger_and_traceback(example):
    service = example("logging")
    service.wait_for("Unexpected exception")
    service.wait_for("KeyError: 'missing'")
    code, output = service.interrupt()
    assert code == 0, output
    assert re.search(r"INFO my_extra_logger: Initializing periodic log", output)
    assert "my_microservice_name: logger line" in output


def test_metrics_example_exposes_the_meters(example):
    service = example("metrics")
    url = service.wait_for(r"Prometheus endpoint (http://\S+/metrics)").group(1)
    service.wait_for("cats so far: 1")
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    code, output = service.interrupt()
    assert code == 0, output
    for name in ("metrics_example_cats", "metrics_example_meows", "metrics_example_jumps"):
        assert re.search(rf"^{name}(_total)?(\{{.*\}})? [1-9]", text, flags=re.M), (name, text)
    assert re.search(r'^metrics_example_http_requests(_total)?\{.*status_code="200".*\} [1-9]', text, flags=re.M)
    assert "metrics_example_websocket_connections" in text
    assert "metrics_example_http_requests_processing_time" in text

"""The README's demo command runs the demo service: it starts, says where to look, stops on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_service_runs_and_stops_on_sigint():
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "demo" / "microservice.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_DEMO_REPORT_PORT": "0"},
    )
    lines = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "tick 1" in line:
                break
        output = "".join(lines)
        assert "settings from" in output and "settings.yml" in output
        assert "Hello from the demo service (deploy demo)" in output
        assert "tick 1" in output
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output + rest
    assert "lifecycle: stopped (exit code 0)" in rest

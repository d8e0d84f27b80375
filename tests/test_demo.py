"""The README's demo command runs the demo service: it starts, says where to look, stops on Ctrl-C."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"


def test_demo_service_runs_serves_status_and_stops_on_sigint(tmp_path):
    settings = tmp_path / "settings.yml"  # the demo's settings, on an ephemeral report port
    settings.write_text((DEMO / "settings.yml").read_text().replace("port: 5747", "port: 0"))
    process = subprocess.Popen(
        [sys.executable, str(DEMO / "microservice.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_YML_FILE": str(settings)},
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
        assert f"settings from {settings}" in output
        assert "Hello from the demo service (deploy demo)" in output
        where = re.search(r"Look at (http://127\.0\.0\.1:\d+)/status", output)
        assert where, output
        with urllib.request.urlopen(f"{where.group(1)}/status", timeout=5) as response:
            assert response.status == 200
            assert "metrics" in json.loads(response.read())["resources"]
        with urllib.request.urlopen(f"{where.group(1)}/metrics", timeout=5) as response:
            assert "demo_ticks" in response.read().decode()
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output + rest
    assert "lifecycle: stopped (exit code 0)" in rest

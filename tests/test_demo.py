"""The README's demo command runs the demo service: it starts, says where to look, stops on Ctrl-C."""

import json
import re
import urllib.request
from pathlib import Path

from tamarco.harness import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"


def test_demo_service_runs_serves_status_and_stops_on_sigint(tmp_path):
    settings = tmp_path / "settings.yml"  # the demo's settings, on an ephemeral report port
    settings.write_text((DEMO / "settings.yml").read_text().replace("port: 5747", "port: 0"))
    with ServiceProcess(DEMO / "microservice.py", env={"TAMARCO_YML_FILE": str(settings)}) as process:
        process.wait_for("tick 1", timeout=30)
        output = process.output
        assert f"settings from {settings}" in output
        assert "Hello from the demo service (deploy demo)" in output
        where = re.search(r"Look at (http://127\.0\.0\.1:\d+)/status", output)
        assert where, output
        with urllib.request.urlopen(f"{where.group(1)}/status", timeout=5) as response:
            assert response.status == 200
            assert "metrics" in json.loads(response.read())["resources"]
        with urllib.request.urlopen(f"{where.group(1)}/metrics", timeout=5) as response:
            assert "demo_ticks" in response.read().decode()
        assert process.interrupt() == 0, process.output
        assert "lifecycle: stopped (exit code 0)" in process.output

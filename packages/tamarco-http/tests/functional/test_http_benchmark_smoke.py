"""A tiny run of benchmarks/http_overhead.py: it starts its servers and prints the ratio.

Speed is never asserted: only that the script works end to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

SCRIPT = Path(__file__).resolve().parents[4] / "benchmarks" / "http_overhead.py"


def test_benchmark_runs_and_prints_the_ratio():
    command = [sys.executable, str(SCRIPT), "--duration", "0.5", "--rounds", "1", "--client", "aiohttp"]
    result = subprocess.run([*command, "--connections", "4"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTPServerResource in a Microservice / bare Sanic = " in result.stdout
    for variant in ("sanic", "tamarco", "tamarco-nometrics"):
        assert f"round 1  {variant}" in result.stdout

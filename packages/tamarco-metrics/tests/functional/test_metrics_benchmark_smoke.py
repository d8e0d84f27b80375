"""A quick run of benchmarks/metrics_overhead.py: every workload is measured and a ratio
printed. Speed is never asserted: only that the script works end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

SCRIPT = Path(__file__).resolve().parents[4] / "benchmarks" / "metrics_overhead.py"


def test_benchmark_runs_and_prints_the_ratios() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    for workload in ("Counter.inc()", "labelled inc, labels looked up per call", "Summary.observe(0.25)", "render"):
        assert re.search(rf"^{re.escape(workload)}.* \d+\.\d\dx$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^worst ratio \d+\.\d\dx", result.stdout, re.MULTILINE)

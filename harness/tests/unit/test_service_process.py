"""ServiceProcess: output, waits that end, settings file, signals and exit codes."""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import pytest
from tamarco.harness import ServiceProcess

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    path = os.environ.get("TAMARCO_YML_FILE")
    print("settings:", open(path).read().replace("\\n", " ") if path else None)
    signal.signal(signal.SIGTERM, lambda *_: (print("bye"), sys.exit(7)))
    for n in range(3):
        print("tick", n)
    time.sleep(60)
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "service.py"
    path.write_text(SCRIPT)
    return path


def test_waits_for_lines_and_returns_the_exit_code_of_sigterm(script: Path) -> None:
    with ServiceProcess(script, settings={"system": {"deploy_name": "x"}}) as service:
        assert "deploy_name: x" in service.wait_for(r"^settings:").string
        assert service.wait_for(r"tick (\d)", count=3).group(1) == "2"
        assert service.count("tick") == 3
        assert service.terminate() == 7
        assert service.output.rstrip().endswith("bye")


def test_a_missing_line_fails_with_the_output(script: Path) -> None:
    with ServiceProcess(script) as service:
        with pytest.raises(AssertionError, match=r"(?s)'never' printed 0 of 1 time\(s\), not within 0\.3 s.*tick 2"):
            service.wait_for("tick 2") and service.wait_for("never", timeout=0.3)


def test_an_exited_process_fails_the_wait_at_once() -> None:
    with ServiceProcess([sys.executable, "-c", "print('only line'); raise SystemExit(3)"]) as service:
        with pytest.raises(AssertionError, match="exited with code 3"):
            service.wait_for("never", timeout=30)


def test_kill_and_leaving_the_block_end_the_process(script: Path) -> None:
    with ServiceProcess(script) as service:
        service.wait_for("tick 0")
        assert service.kill() == -signal.SIGKILL
    left = ServiceProcess(script).start()
    with left:
        left.wait_for("tick 0")
    assert not left.running()

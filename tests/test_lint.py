"""ruff and mypy stay clean across every package (the same commands as `./dev hatch run lint/typecheck`)."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


def test_ruff_check_and_format():
    code, output = run(str(BIN / "ruff"), "check", ".")
    assert code == 0, output
    code, output = run(str(BIN / "ruff"), "format", "--check", ".")
    assert code == 0, output


def test_mypy_on_every_package():
    script = tomllib.loads((ROOT / "hatch.toml").read_text())["envs"]["default"]["scripts"]["typecheck"]
    paths = [word for word in script.split() if word.endswith("/tamarco")]
    assert len(paths) == 7
    code, output = run(str(BIN / "mypy"), *paths)
    assert code == 0, output

"""Each plugin's unit tests pass in a venv holding only core, that plugin and what it declares.

A plugin that reaches another plugin it does not declare (tamarco-http recording meters through
tamarco-metrics, say) works in the workspace venv, where every package is installed, and breaks
for a user who installs it alone: this is where that shows. One base venv (a plain
``python -m venv``, no system site-packages) gets the test tools at the workspace's versions and
tamarco-core (editable); each plugin gets a copy of it plus the plugin and its declared tamarco
dependencies (editable, from the source dirs), with their third-party dependencies from the
configured index, and tamarco-harness only when the plugin's unit tests import it (it is not a
plugin: a test tool on top of core); then ``python -m pytest <plugin>/tests/unit`` runs there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.functional

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ["tamarco-http", "tamarco-metrics", "tamarco-status", "tamarco-amqp", "tamarco-kafka"]
#: What the root pytest configuration needs (asyncio mode, timeout), at the workspace's versions.
TEST_TOOLS = ["pytest", "pytest-asyncio", "pytest-timeout"]
BUILD_TOOLS = ["hatchling", "editables"]  # editable installs without a build venv per package


def _run(command: list[str], timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def _pip(venv: Path, *args: str) -> None:
    result = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *args])
    assert result.returncode == 0, f"pip install {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"


def _tamarco_dependencies(distribution: str) -> list[str]:
    """``distribution`` and the tamarco distributions it declares, recursively (core excluded)."""
    project = tomllib.loads((ROOT / "packages" / distribution / "pyproject.toml").read_text())["project"]
    found = [distribution]
    for requirement in project.get("dependencies", []):
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        if name.startswith("tamarco-") and name != "tamarco-core" and name not in found:
            found.extend(d for d in _tamarco_dependencies(name) if d not in found)
    return found


def _unit_tests_use_the_harness(plugin: str) -> bool:
    tests = ROOT / "packages" / plugin / "tests"
    sources = [*tests.joinpath("unit").rglob("*.py"), *tests.glob("conftest.py")]
    return any("tamarco.harness" in path.read_text() for path in sources)


def _installed_tamarco(venv: Path) -> set[str]:
    script = (
        "import importlib.metadata as m\n"
        "print('\\n'.join(sorted({d.metadata['Name'] for d in m.distributions() "
        "if d.metadata['Name'].startswith('tamarco')})))"
    )
    result = _run([str(venv / "bin" / "python"), "-c", script])
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("isolated") / "base"
    result = _run([sys.executable, "-m", "venv", str(venv)])
    assert result.returncode == 0, result.stderr
    _pip(venv, *BUILD_TOOLS, *(f"{tool}=={version(tool)}" for tool in TEST_TOOLS))
    _pip(venv, "--no-build-isolation", "-e", str(ROOT / "packages" / "tamarco-core"))
    assert _installed_tamarco(venv) == {"tamarco-core"}
    return venv


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_plugins_unit_tests_pass_with_only_core_and_what_it_declares(base_venv: Path, plugin: str) -> None:
    if not (ROOT / "packages" / plugin / "tests" / "unit").is_dir():
        pytest.skip(f"{plugin} has no unit tests")
    venv = base_venv.parent / plugin
    shutil.copytree(base_venv, venv, symlinks=True)
    distributions = _tamarco_dependencies(plugin)
    sources = [ROOT / "packages" / d for d in distributions]
    if _unit_tests_use_the_harness(plugin):
        distributions.append("tamarco-harness")
        sources.append(ROOT / "harness")
    _pip(venv, "--no-build-isolation", *(argument for source in sources for argument in ("-e", str(source))))
    assert _installed_tamarco(venv) == {"tamarco-core", *distributions}  # no other plugin
    result = _run(
        [str(venv / "bin" / "python"), "-m", "pytest", f"packages/{plugin}/tests/unit", "-q", "-p", "no:cacheprovider"],
        timeout=600,
    )
    output = f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{plugin} unit tests in a venv with only {distributions} and core:\n{output}"


def test_the_dependency_walk_follows_declared_plugins() -> None:
    # No plugin declares another (the report server is core's contract), so each walk is the
    # plugin alone; the meta-package declares the default ones, which is what the walk must follow.
    for plugin in PLUGINS:
        assert _tamarco_dependencies(plugin) == [plugin]
    assert set(_tamarco_dependencies("tamarco")) == {"tamarco", "tamarco-metrics", "tamarco-status", "tamarco-http"}

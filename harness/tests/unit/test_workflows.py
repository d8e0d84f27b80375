""".github/workflows: valid for GitHub, and testing every distribution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[3]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "release.yml"}


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_workflows_match_the_github_schema(schema):
    result = check_jsonschema(schema, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0


def test_every_distribution_with_tests_has_a_test_job():
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    matrix = ci["jobs"]["test"]["strategy"]["matrix"]
    tested = set(matrix["package"])
    with_tests = {
        str(path.parent.relative_to(ROOT)) for path in [*ROOT.glob("packages/*/tests"), ROOT / "harness" / "tests"]
    }
    assert with_tests <= tested
    # Each job runs its package's tests/ (not the harness's examples, for instance).
    assert all((ROOT / package / "tests").is_dir() for package in tested)
    assert {"backend": "local", "package": "harness", "python": "3.11"} in matrix["include"]


def test_lint_and_type_check_jobs_use_the_readme_commands():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    commands = {job: [step.get("run", "") for step in jobs[job]["steps"]] for job in ("lint", "typecheck")}
    assert "./dev hatch run lint" in commands["lint"]
    assert "./dev hatch run typecheck" in commands["typecheck"]


def test_ci_runs_the_fault_suite_on_the_local_backend():
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["faults"]
    assert job["env"]["TAMARCO_HARNESS_BACKEND"] == "local"
    commands = [step.get("run", "") for step in job["steps"]]
    assert "./dev services" in commands
    assert any(command.startswith(".venv/bin/python -m pytest tests/faults") for command in commands)
    assert (ROOT / "tests" / "faults").is_dir()

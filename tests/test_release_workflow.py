"""release.yml releases one distribution per tag, tested as a user installs it; CI runs the
whole suite on the oldest supported Python, every package on every supported Python, and the
distribution test."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
#: Python 3.10 reached its end of life in October 2026.
SUPPORTED_PYTHONS = ["3.11", "3.12", "3.13", "3.14"]


def _jobs(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())["jobs"]


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_a_tag_releases_its_distribution_only_after_its_wheel_passed_alone():
    workflow = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    assert workflow[True]["push"]["tags"] == ["*-v*"]  # `on:` parses as True
    jobs = workflow["jobs"]
    build = _runs(jobs["build"])
    assert 'distribution="${tag%-v*}"' in build and 'version="${tag##*-v}"' in build
    assert 'python -m build --outdir dist "${{ steps.locate.outputs.directory }}"' in build  # wheel from sdist
    assert "twine check --strict dist/*" in build
    test = _runs(jobs["test-wheel"])
    assert "python -m venv /tmp/alone" in test and "--find-links dist" in test
    assert "/tmp/alone/bin/python -m pytest" in test and "tests/unit" in test
    assert jobs["test-wheel"]["strategy"]["matrix"]["python"] == SUPPORTED_PYTHONS
    publish = jobs["publish"]
    assert set(publish["needs"]) == {"build", "test-wheel"}
    assert publish["permissions"] == {"id-token": "write"}  # trusted publishing, no token
    assert any(step.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for step in publish["steps"])
    assert not any("password" in step.get("with", {}) for step in publish["steps"])


def test_ci_runs_the_whole_suite_on_the_oldest_python_and_the_distribution_test():
    jobs = _jobs("ci.yml")
    suite = jobs["suite"]
    setup = next(step for step in suite["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == SUPPORTED_PYTHONS[0]
    assert "./dev test -ra" in _runs(suite)  # every package and tests/, both harness backends
    assert jobs["test"]["strategy"]["matrix"]["python"] == SUPPORTED_PYTHONS
    assert "python310" not in jobs
    assert ".venv/bin/python -m pytest tests/test_distributions.py" in _runs(jobs["distributions"])

"""The repository's promises: README commands exist and CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^(\./dev \w+)\s", readme, flags=re.M)
    assert commands[:2] == ["./dev demo", "./dev test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec \./dev test$", ci, flags=re.M)


def test_every_distribution_has_its_own_metadata():
    for pyproject in [*ROOT.glob("packages/*/pyproject.toml"), ROOT / "harness" / "pyproject.toml"]:
        package = pyproject.parent
        meta = tomllib.loads(pyproject.read_text())
        assert meta["build-system"]["build-backend"] == "hatchling.build", package
        assert meta["project"]["version"], package
        assert (package / "CHANGELOG.md").is_file(), package
        assert (package / "README.md").is_file(), package


def test_meta_package_extras():
    meta = tomllib.loads((ROOT / "packages" / "tamarco" / "pyproject.toml").read_text())["project"]
    assert set(meta["dependencies"]) == {
        "tamarco-core[etcd,redis,logging-http,scaffold]>=0.2.0,<0.3",
        "tamarco-metrics>=0.2.0,<0.3",
        "tamarco-status>=0.2.0,<0.3",
        "tamarco-http>=0.2.0,<0.3",
    }
    assert meta["optional-dependencies"] == {
        "amqp": ["tamarco-amqp>=0.2.0,<0.3"],
        "kafka": ["tamarco-kafka>=0.2.0,<0.3"],
        "all": ["tamarco-amqp>=0.2.0,<0.3", "tamarco-kafka>=0.2.0,<0.3", "tamarco-core[tracing,pydantic]>=0.2.0,<0.3"],
    }


#: The project's bar: a module past this many lines is split by responsibility.
MAX_MODULE_LINES = 500


def test_no_module_under_src_is_over_500_lines():
    modules = [*ROOT.glob("packages/*/src/**/*.py"), *ROOT.glob("harness/src/**/*.py")]
    assert modules, "no module found under packages/*/src or harness/src"
    too_long = {
        str(module.relative_to(ROOT)): lines
        for module in modules
        if (lines := len(module.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them by responsibility): {too_long}"

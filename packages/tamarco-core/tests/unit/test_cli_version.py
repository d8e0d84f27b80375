"""``tamarco version`` and ``tamarco --version``: every installed tamarco distribution, one a line."""

from importlib import metadata

import pytest
from tamarco.cli.main import main
from tamarco.core.versions import installed_distributions


def _expected() -> list[str]:
    names = {
        distribution.metadata["Name"].lower().replace("_", "-")
        for distribution in metadata.distributions()
        if distribution.metadata["Name"].lower().replace("_", "-").startswith("tamarco")
    }
    return [f"{name} {metadata.version(name)}" for name in sorted(names)]


def test_version_prints_every_installed_tamarco_distribution(capsys):
    assert main(["version"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == _expected()
    assert f"tamarco-core {metadata.version('tamarco-core')}" in lines


def test_the_version_option_prints_the_same_and_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.splitlines() == _expected()


def test_installed_distributions_is_sorted_and_a_copy():
    versions = installed_distributions()
    assert list(versions) == sorted(versions)
    versions["tamarco-core"] = "changed"
    assert installed_distributions()["tamarco-core"] == metadata.version("tamarco-core")

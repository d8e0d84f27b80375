"""A missing optional dependency is an error naming the tamarco-core extra that installs it."""

import pytest
from tamarco.core.extras import EXTRA_OF_MODULE, MissingExtraError, missing_extra


@pytest.mark.parametrize(("module", "extra"), sorted(EXTRA_OF_MODULE.items()))
def test_a_missing_optional_module_names_its_extra(module, extra):
    error = missing_extra(ModuleNotFoundError(f"No module named '{module}.sub'", name=f"{module}.sub"), "a feature")
    assert isinstance(error, MissingExtraError)
    assert isinstance(error, ImportError)
    assert f"pip install 'tamarco-core[{extra}]'" in str(error)
    assert str(error).startswith(f"a feature needs {module}")


def test_another_import_error_is_returned_unchanged():
    original = ModuleNotFoundError("No module named 'something_else'", name="something_else")
    assert missing_extra(original, "a feature") is original
    broken = ImportError("cannot import name 'x' from 'aetcd'", name="aetcd")
    assert missing_extra(broken, "a feature") is broken  # installed but broken: not a missing extra


def test_the_extras_named_exist_in_the_pyproject():
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert set(EXTRA_OF_MODULE.values()) <= set(extras)

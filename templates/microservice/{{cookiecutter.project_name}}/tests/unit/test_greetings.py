"""The logic on its own: no service, no network."""

import pytest

from {{ cookiecutter.project_slug }}.logic.greetings import MAX_NAME_LENGTH, InvalidName, greet


def test_greet_says_hello():
    assert greet("Ada") == "Hello, Ada!"


def test_greet_strips_spaces():
    assert greet("  Ada ") == "Hello, Ada!"


@pytest.mark.parametrize("name", ["", "   ", "x" * (MAX_NAME_LENGTH + 1)])
def test_greet_refuses_bad_names(name):
    with pytest.raises(InvalidName):
        greet(name)

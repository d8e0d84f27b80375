"""Tamarco's entry points are read once, and only the files naming a ``tamarco.`` group are parsed:
the result is what ``importlib.metadata`` itself finds for every ``tamarco.*`` group."""

import importlib.metadata

import pytest
from tamarco.core import entry_points


def test_the_same_entry_points_as_importlib_metadata_in_the_same_order():
    entry_points.refresh()
    every = importlib.metadata.entry_points()
    groups = [group for group in every.groups if group.startswith("tamarco.")]
    assert "tamarco.default_resources" in groups  # the workspace installs the plugins
    for group in groups:
        expected = [(ep.name, ep.value) for ep in every.select(group=group)]
        assert [(ep.name, ep.value) for ep in entry_points.entry_points(group)] == expected, group
    assert entry_points.entry_points("tamarco.no_such_group") == ()
    with pytest.raises(ValueError, match="not a Tamarco entry-point group"):
        entry_points.entry_points("console_scripts")

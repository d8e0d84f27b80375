"""Unit-test helpers: every meter a test creates lives in a fresh scope or has a unique name."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from tamarco.resources.basic.metrics import GLOBAL_SCOPE, MeterScope, meter_scope

_names = itertools.count()


@pytest.fixture
def scope() -> Iterator[MeterScope]:
    """A fresh scope, current for the (sync) test body."""
    with meter_scope(MeterScope("unit")) as fresh:
        yield fresh


@pytest.fixture
def global_name() -> Iterator[str]:
    """A meter name unique to the test, removed from the process-wide scope afterwards."""
    name = f"unit_global_{next(_names)}"
    yield name
    GLOBAL_SCOPE.families.pop(name, None)

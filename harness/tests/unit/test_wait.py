from __future__ import annotations

import itertools

import pytest
from tamarco.harness import WaitTimeout, wait_until


def test_returns_the_first_truthy_value():
    counter = itertools.count()
    assert wait_until(lambda: next(counter) >= 3 and "done", timeout=5, interval=0) == "done"


def test_timeout_names_what_was_awaited():
    with pytest.raises(WaitTimeout, match="the moon"):
        wait_until(lambda: None, timeout=0.05, interval=0.01, description="the moon")

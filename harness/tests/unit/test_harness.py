from __future__ import annotations

import pytest
from tamarco.harness import Harness, HarnessError


def test_an_unknown_service_is_named_with_the_known_ones():
    with Harness("local") as harness, pytest.raises(HarnessError, match=r"unknown service 'mongodb'; known: etcd"):
        harness.get("mongodb")


def test_a_closed_harness_starts_nothing():
    harness = Harness("local")
    harness.close()
    with pytest.raises(HarnessError, match="closed"):
        harness.get("redis")
    harness.close()  # idempotent


def test_a_harness_that_started_nothing_has_no_env():
    with Harness("local") as harness:
        assert harness.env() == {}
        assert harness.services() == []

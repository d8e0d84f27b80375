"""The authority check of URLs from settings: what is refused, and that reasons quote nothing."""

from __future__ import annotations

import pytest
from tamarco.core.urls import authority_problem


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        "amqps://bob:p%40ss%2Fw%3Ard%25@broker.example/vhost",
        "http://[::1]:8080/path?q=1#f",
        "https://token@api.example/",
        "kafka://broker:9092",
        "amqp://host",
        "amqp://u:@host/",
    ],
)
def test_valid_authorities_pass(url: str) -> None:
    assert authority_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("amqp://probe:QpZ@ss/w:rd%@127.0.0.1:41449/", "follows the host part"),
        ("amqp://probe:Qp?Zss@127.0.0.1/", "follows the host part"),
        ("amqp://probe:Qp#Zss@127.0.0.1/", "follows the host part"),
        ("amqp://probe:Qp@Zss@127.0.0.1/", "unencoded '@'"),
        ("amqp://probe:Q50%Zoff@127.0.0.1/", "must be percent-encoded"),
        ("amqp://probe:Q Zx@127.0.0.1/", "must be percent-encoded"),
        ("amqp://probe:QZ@/", "no host"),
        ("amqp://probe:QZ@host:port/", "host or port"),
        ("no scheme", "scheme://"),
    ],
)
def test_invalid_authorities_are_explained_without_quoting_them(url: str, reason: str) -> None:
    problem = authority_problem(url)
    assert problem is not None and reason in problem
    assert "Q" not in problem and "Z" not in problem and "probe" not in problem and "127" not in problem

"""The event every output ships: service fields, extras, tags, traceback, masking, safety."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
from tamarco.core.logging.formatters import (
    HumanFormatter,
    JSONLinesFormatter,
    LogstashFormatter,
    use_color,
)
from tamarco.core.logging.records import MASK, is_secret_key, jsonable, utc_timestamp

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def make_record(msg: str = "hello %s", args: tuple = ("world",), exc_info=None, **extra) -> logging.LogRecord:
    logger = logging.getLogger("svc")
    return logger.makeRecord("svc", logging.WARNING, __file__, 10, msg, args, exc_info, extra=extra or None)


def formatter(version: int) -> LogstashFormatter:
    return LogstashFormatter("svc", "deploy-1", version=version, host="h", instance_id="i-1")


class Unserializable:
    def __repr__(self) -> str:
        return "<Unserializable>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_version_1_has_every_field_at_the_top() -> None:
    record = make_record(tags={"tag": "v"}, request_id="r-1")
    event = json.loads(formatter(1).format(record))
    assert event["message"] == "hello world"
    assert event["@version"] == "1"
    assert ISO_UTC.match(event["@timestamp"])
    assert event["service_name"] == "svc" and event["deploy_name"] == "deploy-1"
    assert event["levelname"] == "WARNING" and event["logger"] == "svc"
    assert event["level"] == "WARNING" and event["logger_name"] == "svc"  # 0.1 names kept
    assert event["tags"] == ["tag:v"] and event["request_id"] == "r-1"
    assert event["instance_id"] == "i-1"
    assert event["host"] == {"name": "h"}  # an object: Logstash 8 (ECS) adds host.ip to it
    assert "stack_trace" not in event


def test_version_0_nests_the_same_service_fields() -> None:
    event = json.loads(formatter(0).format(make_record(tags=["a"], request_id="r-1")))
    assert event["@message"] == "hello world"
    assert event["@tags"] == ["a"]
    assert ISO_UTC.match(event["@timestamp"])
    fields = event["@fields"]
    assert fields["service_name"] == "svc" and fields["deploy_name"] == "deploy-1"
    assert fields["levelname"] == "WARNING" and fields["logger"] == "svc"
    assert fields["request_id"] == "r-1"


@pytest.mark.parametrize("version", [0, 1])
def test_exc_info_adds_the_formatted_traceback(version: int) -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        record = make_record(exc_info=sys.exc_info())
    event = json.loads(formatter(version).format(record))
    fields = event["@fields"] if version == 0 else event
    assert "Traceback (most recent call last)" in fields["stack_trace"]
    assert "KeyError: 'missing'" in fields["stack_trace"]


def test_timestamp_is_utc_with_milliseconds_across_seconds() -> None:
    assert utc_timestamp(0.25) == "1970-01-01T00:00:00.250Z"
    assert utc_timestamp(1764281400.001) == "2025-11-27T22:10:00.001Z"
    assert utc_timestamp(1764281400.9996) == "2025-11-27T22:10:00.999Z"
    assert utc_timestamp(1764281401.5) == "2025-11-27T22:10:01.500Z"  # the cached second moves on
    assert utc_timestamp(0.25) == "1970-01-01T00:00:00.250Z"


def test_unserializable_extra_is_sent_as_its_repr_and_never_raises() -> None:
    record = make_record(obj=Unserializable(), broken=BrokenRepr(), nested={"x": {1, 2}, 3: float("nan")})
    event = json.loads(formatter(1).format(record))
    assert event["obj"] == "<Unserializable>"
    assert event["broken"].startswith("<unrepresentable BrokenRepr")
    assert sorted(event["nested"]["x"]) == [1, 2] and event["nested"]["3"] == "nan"


def test_bad_message_arguments_do_not_raise() -> None:
    event = json.loads(formatter(1).format(make_record("%d apples", ("many",))))
    assert "message formatting failed" in event["message"]


@pytest.mark.parametrize("key", ["password", "db_password", "API_KEY", "auth_token", "client_secret", "Authorization"])
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


def test_secret_values_are_masked_at_any_depth_in_every_output() -> None:
    record = make_record(password="hunter2", user={"name": "n", "token": "t0k3n"}, tags={"secret": "x"})
    for fmt in (formatter(0), formatter(1), JSONLinesFormatter("svc"), HumanFormatter()):
        text = fmt.format(record)
        assert "hunter2" not in text and "t0k3n" not in text
        assert MASK in text
    assert jsonable({"Password": 1, "list": [{"secret": 2}]}) == {"Password": MASK, "list": [{"secret": MASK}]}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"tag": "tag_value", "n": 2}, ["tag:tag_value", "n:2"]),
        (["a", 1, {"k": "v"}], ["a", "1", '{"k": "v"}']),
        ("single", ["single"]),
        (None, []),
        ({"api_token": "t0k3n"}, ["api_token:********"]),
    ],
)
def test_logstash_tags_are_a_list_of_strings(tags, expected) -> None:
    """Logstash 8 moves a tags field that is not a list of strings aside (_tagsparsefailure)."""
    for version in (0, 1):
        event = json.loads(formatter(version).format(make_record(tags=tags)))
        assert event["@tags" if version == 0 else "tags"] == expected


def test_human_format_shows_extras_and_tags_without_colour() -> None:
    line = HumanFormatter(color=False).format(make_record(tags=["t"], request_id="r-1"))
    assert "WARNING svc: hello world" in line
    assert 'request_id="r-1"' in line and 'tags=["t"]' in line
    assert "\x1b[" not in line


def test_human_format_colours_when_asked() -> None:
    assert "\x1b[" in HumanFormatter(color=True).format(make_record())


class FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_colour_only_on_a_tty_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(FakeStream(True), None) is True
    assert use_color(FakeStream(False), None) is False
    assert use_color(FakeStream(False), True) is True
    assert use_color(FakeStream(True), False) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(FakeStream(True), None) is False


def test_json_lines_is_one_object_per_line() -> None:
    try:
        raise ValueError("multi\nline")
    except ValueError:
        text = JSONLinesFormatter("svc", "d").format(make_record(exc_info=sys.exc_info()))
    assert "\n" not in text
    assert json.loads(text)["stack_trace"].endswith("ValueError: multi\nline")


def test_version_must_be_0_or_1() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        LogstashFormatter(version=2)

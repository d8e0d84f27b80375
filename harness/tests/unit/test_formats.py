"""File and wire formats the harness writes or reads, checked without running services."""

from __future__ import annotations

import json
import struct

import pytest
from tamarco.harness import LogstashService, PrometheusService
from tamarco.harness._collector import EventSink
from tamarco.harness._etcd import prefix_range_end
from tamarco.harness._whisper import read_whisper


@pytest.mark.parametrize(
    ("prefix", "end"),
    [(b"/a/", b"/a0"), (b"a", b"b"), (b"a\xff", b"b"), (b"\xff", b"\x00")],
)
def test_etcd_prefix_range_end(prefix, end):
    assert prefix_range_end(prefix) == end


def test_whisper_points_of_the_finest_archive(tmp_path):
    points = 4
    header = struct.pack("!2LfL", 1, 3600, 0.5, 1)
    offset = len(header) + struct.calcsize("!3L")
    archive = struct.pack("!3L", offset, 1, points)
    body = (
        struct.pack("!Ld", 1000, 2.5)
        + struct.pack("!Ld", 0, 0.0)
        + struct.pack("!Ld", 998, 1.0)
        + struct.pack("!Ld", 0, 0.0)
    )
    path = tmp_path / "metric.wsp"
    path.write_bytes(header + archive + body)
    assert read_whisper(path) == [(998, 1.0), (1000, 2.5)]


def test_whisper_of_a_truncated_file_is_empty(tmp_path):
    path = tmp_path / "metric.wsp"
    path.write_bytes(b"\x00\x01")
    assert read_whisper(path) == []


def test_collector_sink_keeps_objects_lists_and_non_json(tmp_path):
    path = tmp_path / "events.jsonl"
    sink = EventSink(path)
    assert sink.add(b'{"message": "one"}', "udp") == 1
    assert sink.add('[{"message": "two"}, {"message": "three"}]', "http") == 2
    assert sink.add(b"not json", "redis_list") == 1
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert events == [
        {"message": "one", "harness_input": "udp"},
        {"message": "two", "harness_input": "http"},
        {"message": "three", "harness_input": "http"},
        {"message": "not json", "tags": ["_jsonparsefailure"], "harness_input": "redis_list"},
    ]


def test_prometheus_targets_file_lists_added_targets():
    prometheus = PrometheusService("local")
    try:
        path = prometheus.workdir / "sd" / "targets.json"
        assert json.loads(path.read_text()) == []
        prometheus.add_target("127.0.0.1", 9100, labels={"service": "billing"})
        prometheus.add_target("127.0.0.1", 9200, metrics_path="/stats")
        assert json.loads(path.read_text()) == [
            {"targets": ["127.0.0.1:9100"], "labels": {"service": "billing"}},
            {"targets": ["127.0.0.1:9200"], "labels": {"__metrics_path__": "/stats"}},
        ]
        prometheus.remove_target("127.0.0.1", 9100)
        assert [group["targets"] for group in json.loads(path.read_text())] == [["127.0.0.1:9200"]]
        assert not list(path.parent.glob("*.tmp"))
    finally:
        prometheus.close()
    assert not prometheus.workdir.exists()


def test_logstash_events_skip_a_line_still_being_written():
    logstash = LogstashService("local")
    try:
        logstash.events_path.write_text('{"a": 1}\n{"b": 2}\n{"c":')
        assert logstash.events() == [{"a": 1}, {"b": 2}]
        logstash.clear()
        assert logstash.events() == []
    finally:
        logstash.close()


def test_logstash_pipeline_has_the_three_inputs_and_a_json_lines_output():
    from tamarco.harness import RedisService

    redis = RedisService("local")
    logstash = LogstashService("local", redis=redis, redis_key="logs", redis_channel="live")
    try:
        pipeline = logstash.pipeline_config()
        assert f'udp {{ host => "127.0.0.1" port => {logstash.udp_port} codec => json' in pipeline
        assert f'http {{ host => "127.0.0.1" port => {logstash.http_port}' in pipeline
        assert 'data_type => "list" key => "logs"' in pipeline
        assert 'data_type => "channel" key => "live"' in pipeline
        assert "codec => json_lines" in pipeline
        assert logstash.env()["TAMARCO_LOGSTASH_REDIS_KEY"] == "logs"
        assert logstash.env()["TAMARCO_LOGSTASH_PORT"] == str(logstash.udp_port)
    finally:
        logstash.close()
        redis.close()

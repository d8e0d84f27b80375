"""``system.tracing`` and the ``OTEL_*`` variables: what is accepted, and errors naming the key."""

from __future__ import annotations

import pytest
from tamarco.core.tracing import TracingSettingsError, parse_tracing_settings


def test_defaults_tracing_off_local_collector():
    config = parse_tracing_settings(None, {})
    assert not config.enabled
    assert config.traces_url == "http://localhost:4318/v1/traces"
    assert config.sample_ratio is None and config.headers == {} and config.timeout == 10.0 and not config.tasks


def test_settings_win_over_the_environment():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-env=1",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
    }
    config = parse_tracing_settings(
        {
            "enabled": True,
            "endpoint": "https://collector:4318/",
            "sample_ratio": 0.25,
            "headers": {"X-Key": "k"},
            "timeout": 2,
        },
        env,
    )
    assert config.enabled
    assert config.traces_url == "https://collector:4318/v1/traces"
    assert config.sample_ratio == 0.25
    assert config.headers == {"x-key": "k"}
    assert config.timeout == 2.0


def test_environment_where_the_settings_are_silent():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=a%20b,x-team=t",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "4.5",
    }
    config = parse_tracing_settings({"enabled": True}, env)
    assert config.traces_url == "http://env:4318/v1/traces"
    assert config.headers == {"api-key": "a b", "x-team": "t"}
    assert config.timeout == 4.5
    # The signal-specific endpoint is the full URL, used as is.
    env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://traces:9999/custom"
    assert parse_tracing_settings({}, env).traces_url == "http://traces:9999/custom"


def test_otel_sdk_disabled_keeps_it_off_unless_the_settings_say_enabled():
    assert not parse_tracing_settings({}, {"OTEL_SDK_DISABLED": "true"}).enabled
    assert parse_tracing_settings({"enabled": True}, {"OTEL_SDK_DISABLED": "true"}).enabled


@pytest.mark.parametrize(
    ("tree", "env", "key"),
    [
        ({"endpoint": "collector:4318"}, {}, "system.tracing.endpoint"),
        ({"endpoint": "ftp://collector"}, {}, "system.tracing.endpoint"),
        ({"endpoint": "http://collector:99999"}, {}, "system.tracing.endpoint"),
        ({"endpoint": 4318}, {}, "system.tracing.endpoint"),
        ({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"enabled": "yes"}, {}, "system.tracing.enabled"),
        ({"sample_ratio": 1.5}, {}, "system.tracing.sample_ratio"),
        ({"sample_ratio": True}, {}, "system.tracing.sample_ratio"),
        ({"timeout": 0}, {}, "system.tracing.timeout"),
        ({}, {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}, "OTEL_EXPORTER_OTLP_TIMEOUT"),
        ({"headers": ["x"]}, {}, "system.tracing.headers"),
        ({"tasks": 1}, {}, "system.tracing.tasks"),
        ({"endpont": "http://x"}, {}, "system.tracing.endpont"),
    ],
)
def test_bad_values_name_the_key(tree, env, key):
    with pytest.raises(TracingSettingsError) as raised:
        parse_tracing_settings(tree, env)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"setting {key} ")


def test_header_values_and_url_passwords_never_in_errors():
    with pytest.raises(TracingSettingsError) as raised:
        parse_tracing_settings({"headers": {"authorization": 12345678}}, {})
    assert "12345678" not in str(raised.value) and "system.tracing.headers.authorization" in str(raised.value)
    with pytest.raises(TracingSettingsError) as raised:
        parse_tracing_settings({"endpoint": "ftp://user:hunter22@collector"}, {})
    assert "hunter22" not in str(raised.value)
    with pytest.raises(TracingSettingsError) as raised:
        parse_tracing_settings({}, {"OTEL_EXPORTER_OTLP_HEADERS": "api-key"})
    assert "OTEL_EXPORTER_OTLP_HEADERS" in str(raised.value)

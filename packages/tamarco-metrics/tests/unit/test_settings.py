"""Reading ``system.resources.metrics``: defaults, overrides and errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.settings.errors import SettingTypeError
from tamarco.core.settings.settings import Settings, SettingsView
from tamarco.resources.basic.metrics import MetricsSettingsError
from tamarco.resources.basic.metrics._settings import read_settings

PREFIX = "system.resources.metrics"


def view(metrics: dict[str, Any]) -> SettingsView:
    settings = Settings(microservice_name="svc")
    settings.update_internal({"system": {"resources": {"metrics": metrics}}})
    return SettingsView(settings, PREFIX)


def test_defaults() -> None:
    config = read_settings(view({}))
    assert config.collect_frequency == 10
    assert config.prometheus is True
    assert config.handlers == []
    assert config.summary_window_seconds == 60
    assert config.summary_age_buckets == 5


def test_reference_configuration() -> None:
    config = read_settings(
        view(
            {
                "collect_frequency": 15,
                "handlers": {
                    "prometheus": {"enabled": False},
                    "carbon": {"enabled": True, "host": "127.0.0.1", "port": 2003, "collect_frequency": 5},
                    "file": {"enabled": True, "path": "/tmp/tamarco_metrics"},
                    "stdout": {"enabled": False},
                },
            }
        )
    )
    assert config.prometheus is False
    assert [(h.kind, h.collect_frequency) for h in config.handlers] == [("carbon", 5.0), ("file", 15.0)]
    carbon, file = config.handlers
    assert (carbon.host, carbon.port) == ("127.0.0.1", 2003)
    assert file.path == "/tmp/tamarco_metrics"


@pytest.mark.parametrize(
    ("metrics", "key", "message"),
    [
        ({"collect_frequency": 0}, "collect_frequency", "greater than 0"),
        ({"collect_frequency": -3}, "collect_frequency", "greater than 0"),
        ({"summary_window_seconds": 0}, "summary_window_seconds", "greater than 0"),
        ({"summary_age_buckets": 0}, "summary_age_buckets", "at least 1"),
        ({"handlers": {"carbon": {"enabled": True}}}, "handlers.carbon.host", "missing"),
        ({"handlers": {"carbon": {"enabled": True, "host": "h", "port": 70000}}}, "handlers.carbon.port", "TCP port"),
        ({"handlers": {"file": {"enabled": True}}}, "handlers.file.path", "missing"),
        (
            {"handlers": {"stdout": {"enabled": True, "collect_frequency": 0}}},
            "handlers.stdout.collect_frequency",
            "greater than 0",
        ),
        ({"handlers": {"stdout": {"enabled": True, "prefix": "{nope}"}}}, "handlers.stdout.prefix", "placeholders"),
    ],
)
def test_bad_values_name_the_key(metrics: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(MetricsSettingsError, match=rf"{PREFIX}.{key}.*{message}"):
        read_settings(view(metrics))


def test_wrong_types_name_the_key() -> None:
    with pytest.raises(SettingTypeError, match=rf"{PREFIX}.collect_frequency"):
        read_settings(view({"collect_frequency": "fast"}))
    with pytest.raises(SettingTypeError, match=rf"{PREFIX}.handlers.carbon.enabled"):
        read_settings(view({"handlers": {"carbon": {"enabled": "yes"}}}))


def test_an_unknown_handler_or_key_is_an_error_naming_it() -> None:
    with pytest.raises(MetricsSettingsError, match=rf"setting {PREFIX}.handlers.statsd is unknown \(known: carbon, "):
        read_settings(view({"handlers": {"statsd": {"enabled": True}}}))
    with pytest.raises(MetricsSettingsError, match=rf"setting {PREFIX}.handlers.carbon.hots is unknown"):
        read_settings(view({"handlers": {"carbon": {"enabled": False, "hots": "h"}}}))


def test_the_report_server_settings_where_the_0_1_docs_put_them_are_not_unknown() -> None:
    config = read_settings(view({"tamarco_http_report_server": {"host": "127.0.0.1", "port": 5747}}))
    assert config.handlers == []


def test_every_wrong_setting_is_reported_at_once() -> None:
    metrics = {
        "collect_frequency": "fast",
        "colect_frequency": 5,
        "summary_age_buckets": 0,
        "handlers": {
            "prometheus": {"enabled": "yes"},
            "carbon": {"enabled": True, "port": 70000, "timeout": 0},
            "file": {"enabled": True, "path": "/tmp/m", "prefix": "{nope}"},
            "stdout": {"enabled": True, "collect_frequency": 2},
        },
    }
    with pytest.raises(MetricsSettingsError, match=r"^8 wrong settings: ") as raised:
        read_settings(view(metrics))
    message = str(raised.value)
    for key, problem in [
        ("colect_frequency", "is unknown"),
        ("collect_frequency", "must be int or float, got str 'fast'"),
        ("summary_age_buckets", "must be an integer of at least 1, got 0"),
        ("handlers.prometheus.enabled", "must be bool"),
        ("handlers.carbon.host", "is missing"),
        ("handlers.carbon.port", "must be a TCP port"),
        ("handlers.carbon.timeout", "must be a number greater than 0, got 0"),
        ("handlers.file.prefix", ""),
    ]:
        assert f"setting {PREFIX}.{key} {problem}" in message or f"setting {PREFIX}.{key}: " in message, key
    assert "stdout" not in message  # a right handler beside wrong ones is not named


def test_a_lone_wrong_type_is_the_core_type_error_a_lone_wrong_value_the_metrics_error() -> None:
    with pytest.raises(SettingTypeError):
        read_settings(view({"handlers": {"stdout": {"enabled": True, "prefix": 3}}}))
    with pytest.raises(MetricsSettingsError) as raised:
        read_settings(view({"summary_window_seconds": -1}))
    assert str(raised.value) == f"setting {PREFIX}.summary_window_seconds must be a number greater than 0, got -1"

"""Reading ``system.resources.metrics``: defaults, overrides and errors naming the key."""

from __future__ import annotations

import logging
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


def test_unknown_handler_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tamarco.metrics"):
        config = read_settings(view({"handlers": {"statsd": {"enabled": True}}}))
    assert config.handlers == []
    assert f"unknown metrics handler {PREFIX}.handlers.statsd ignored" in caplog.text

"""system.logging parsing: defaults, every bad value named, secrets kept out of messages."""

from __future__ import annotations

import logging

import pytest
from tamarco.core.logging.config import (
    HTTPConfig,
    LoggingSettingsError,
    RedisConfig,
    parse_logging_settings,
    redact_url,
)


def test_defaults_are_production_stdout_human_and_no_network_outputs() -> None:
    config = parse_logging_settings(None)
    assert config.profile == "PRODUCTION"
    assert config.level == logging.INFO
    assert config.stdout is not None and config.stdout.format == "human" and config.stdout.color is None
    assert (config.file, config.logstash, config.redis, config.http) == (None, None, None, None)


def test_develop_profile_is_debug_level() -> None:
    assert parse_logging_settings({"profile": "DEVELOP"}).level == logging.DEBUG


def test_unknown_profile_names_the_setting_and_allowed_values() -> None:
    with pytest.raises(LoggingSettingsError) as error:
        parse_logging_settings({"profile": "develop"})
    message = str(error.value)
    assert "system.logging.profile" in message and "'develop'" in message
    assert "DEVELOP" in message and "PRODUCTION" in message


@pytest.mark.parametrize(
    ("tree", "key"),
    [
        ({"stdout": "yes"}, "system.logging.stdout"),
        ({"stdout_format": "xml"}, "system.logging.stdout_format"),
        ({"stdout_color": "sometimes"}, "system.logging.stdout_color"),
        ({"file_path": "/tmp/x.log", "file_max_bytes": -1}, "system.logging.file_max_bytes"),
        ({"file_path": 3}, "system.logging.file_path"),
        ({"logstash": {"enabled": "true"}}, "system.logging.logstash.enabled"),
        ({"logstash": {"enabled": True, "port": 70000}}, "system.logging.logstash.port"),
        ({"logstash": {"enabled": True, "version": 2}}, "system.logging.logstash.version"),
        ({"logstash": {"enabled": True, "queue_size": 0}}, "system.logging.logstash.queue_size"),
        ({"redis": {"enabled": True, "data_type": "stream"}}, "system.logging.redis.data_type"),
        ({"redis": {"enabled": True, "port": "6379"}}, "system.logging.redis.port"),
        ({"http": {"enabled": True}}, "system.logging.http.url"),
        ({"http": {"enabled": True, "url": "ftp://x"}}, "system.logging.http.url"),
        ({"http": {"enabled": True, "url": "http://x", "max_records": 0}}, "system.logging.http.max_records"),
        ({"http": {"enabled": True, "url": "http://x", "max_time_seconds": 0}}, "system.logging.http.max_time_seconds"),
        ({"redis": "on"}, "system.logging.redis"),
    ],
)
def test_bad_values_name_the_full_key(tree: dict, key: str) -> None:
    with pytest.raises(LoggingSettingsError, match=key.replace(".", r"\.")):
        parse_logging_settings(tree)


def test_disabled_blocks_are_not_validated_or_built() -> None:
    config = parse_logging_settings({"redis": {"enabled": False, "port": "nonsense"}})
    assert config.redis is None


def test_network_blocks_take_their_settings() -> None:
    config = parse_logging_settings(
        {
            "logstash": {"enabled": True, "host": "logs", "port": 5044, "fqdn": True, "version": 0},
            "redis": {"enabled": True, "password": "s3cr3t", "ssl": True, "data_type": "channel", "key": "k"},
            "http": {"enabled": True, "url": "https://l:8080/", "user": "u", "password": "p", "max_records": 7},
        }
    )
    assert config.logstash is not None
    assert (config.logstash.host, config.logstash.port, config.logstash.fqdn, config.logstash.version) == (
        "logs",
        5044,
        True,
        0,
    )
    assert config.redis == RedisConfig(password="s3cr3t", ssl=True, data_type="channel", key="k")
    assert config.http == HTTPConfig(url="https://l:8080/", user="u", password="p", max_records=7)


def test_an_http_url_with_an_unencoded_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(
        LoggingSettingsError, match=r"system.logging.http.url is not a valid URL.*percent-encode"
    ) as error:
        parse_logging_settings({"http": {"enabled": True, "url": "https://svc:Qp@Zss/Ww:rd@logs.example/in"}})
    assert not {"Qp", "Zss", "Ww:rd", "svc", "logs.example"} & set(str(error.value).replace("'", " ").split())
    assert "Zss" not in str(error.value)


def test_passwords_stay_out_of_repr_and_errors() -> None:
    config = parse_logging_settings({"redis": {"enabled": True, "password": "s3cr3t"}})
    assert "s3cr3t" not in repr(config)
    with pytest.raises(LoggingSettingsError) as error:
        parse_logging_settings({"http": {"enabled": True, "url": "http://u:s3cr3t@", "password": 12345}})
    assert "s3cr3t" not in str(error.value)
    with pytest.raises(LoggingSettingsError) as error:
        parse_logging_settings({"redis": {"enabled": True, "password": 987654}})
    assert "987654" not in str(error.value) and "system.logging.redis.password" in str(error.value)


def test_redact_url_hides_the_password_only() -> None:
    assert redact_url("http://user:pw@host:1/p") == "http://user:********@host:1/p"
    assert redact_url("http://host/p") == "http://host/p"


def test_config_compares_by_value_so_unchanged_outputs_are_kept() -> None:
    first = parse_logging_settings({"profile": "DEVELOP", "redis": {"enabled": True}})
    second = parse_logging_settings({"profile": "PRODUCTION", "redis": {"enabled": True}})
    assert first.redis == second.redis
    assert first != second


@pytest.mark.parametrize("given", [{"user": "bob"}, {"password": "pw"}, {"user": "bob", "password": "pw"}])
def test_http_credentials_in_the_url_and_in_user_or_password_are_a_settings_error(given: dict) -> None:
    """aiohttp refuses both on every request (ValueError): reported once, at start, naming the key."""
    tree = {"http": {"enabled": True, "url": "https://svc:url-secret@logs.example:8443/in", **given}}
    with pytest.raises(LoggingSettingsError) as raised:
        parse_logging_settings(tree)
    key = "system.logging.http.user" if "user" in given else "system.logging.http.password"
    assert str(raised.value).startswith(f"setting {key}: credentials are given twice")
    assert "system.logging.http.url" in str(raised.value) and "url-secret" not in str(raised.value)

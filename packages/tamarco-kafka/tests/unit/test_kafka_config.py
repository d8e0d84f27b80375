"""KafkaConfig from settings: defaults, checks naming the full key, no secrets shown."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.messaging import MessagingSettingsError
from tamarco.core.settings.settings import Settings, SettingsView
from tamarco.resources.io.kafka import KafkaConfig

SECRET = "s3cr3t-pa55"


def view(values: dict[str, Any]) -> Any:
    settings = Settings(microservice_name="svc", environ={})
    settings.update_internal({"system": {"resources": {"kafka": values}}})
    return SettingsView(settings, "system.resources.kafka")


def test_defaults() -> None:
    config = KafkaConfig.from_settings(view({}), default_client_id="svc")
    assert config.bootstrap_servers == ["127.0.0.1:9092"]
    assert config.client_id == "svc" and config.security_protocol == "PLAINTEXT"
    assert config.auto_offset_reset == "earliest" and config.auto_create_topics is True
    kwargs = config.consumer_kwargs("g")
    assert kwargs["enable_auto_commit"] is False and kwargs["group_id"] == "g"
    assert config.producer_kwargs()["acks"] == "all"


def test_servers_producer_and_consumer_settings() -> None:
    config = KafkaConfig.from_settings(
        view(
            {
                "bootstrap_servers": "172.31.0.1:9092, 172.31.0.2:9092",
                "client_id": "cows",
                "producer": {"acks": 1, "linger_ms": 5, "compression_type": "gzip", "max_request_size": 2048},
                "consumer": {"fetch_max_wait_ms": 100, "max_poll_records": 50, "auto_offset_reset": "latest"},
            }
        )
    )
    assert config.bootstrap_servers == ["172.31.0.1:9092", "172.31.0.2:9092"]
    assert config.address == "172.31.0.1:9092,172.31.0.2:9092"
    producer = config.producer_kwargs()
    assert (producer["acks"], producer["linger_ms"], producer["compression_type"]) == (1, 5, "gzip")
    consumer = config.consumer_kwargs("g")
    assert consumer["fetch_max_wait_ms"] == 100 and consumer["max_poll_records"] == 50
    assert consumer["auto_offset_reset"] == "latest"


def test_sasl_scram_is_passed_on_and_never_described() -> None:
    config = KafkaConfig.from_settings(
        view({"sasl": {"mechanism": "scram-sha-512", "username": "bob", "password": SECRET}})
    )
    assert config.security_protocol == "SASL_PLAINTEXT" and config.sasl_mechanism == "SCRAM-SHA-512"
    kwargs = config.producer_kwargs()
    assert kwargs["sasl_plain_username"] == "bob" and kwargs["sasl_plain_password"] == SECRET
    assert SECRET not in repr(config.describe()) and SECRET not in repr(config)
    assert config.describe()["username"] == "bob"


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"bootstrap_servers": ""}, "system.resources.kafka.bootstrap_servers"),
        ({"bootstrap_servers": 9092}, "system.resources.kafka.bootstrap_servers"),
        ({"security_protocol": "TLS"}, "system.resources.kafka.security_protocol"),
        ({"security_protocol": "SASL_PLAINTEXT"}, "system.resources.kafka.sasl"),
        ({"sasl": {"username": "bob"}}, "system.resources.kafka.sasl.password"),
        (
            {"sasl": {"mechanism": "GSSAPI", "username": "bob", "password": "x"}},
            "system.resources.kafka.sasl.mechanism",
        ),
        ({"producer": {"acks": "some"}}, "system.resources.kafka.producer.acks"),
        ({"producer": {"compression_type": "rar"}}, "system.resources.kafka.producer.compression_type"),
        ({"producer": {"linger_ms": -1}}, "system.resources.kafka.producer.linger_ms"),
        ({"producer": {"batch": 1}}, "system.resources.kafka.producer.batch"),
        ({"consumer": {"auto_offset_reset": "middle"}}, "system.resources.kafka.consumer.auto_offset_reset"),
        ({"auto_create_topics": "yes"}, "system.resources.kafka.auto_create_topics"),
        ({"commit_interval_seconds": 0}, "system.resources.kafka.commit_interval_seconds"),
        ({"tls": {"cafile": "/nonexistent/ca.pem"}}, "system.resources.kafka.tls"),
    ],
)
def test_bad_values_name_the_full_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(MessagingSettingsError, match=key.replace(".", r"\.")):
        KafkaConfig.from_settings(view(values))


def test_every_wrong_key_is_reported_at_once() -> None:
    values = {
        "bootstrap_servers": "",
        "producer": {"linger_ms": -1},
        "commit_interval_seconds": 0,
        "sasl": {"username": "bob", "password": SECRET},
        "security_protocol": "TLS",
    }
    with pytest.raises(MessagingSettingsError, match=r"^4 wrong settings: ") as error:
        KafkaConfig.from_settings(view(values))
    message = str(error.value)
    for key in ("bootstrap_servers", "producer.linger_ms", "commit_interval_seconds", "security_protocol"):
        assert f"setting system.resources.kafka.{key} " in message, key
    assert SECRET not in message


@pytest.mark.parametrize(
    "servers",
    [
        f"kafka://bob:{SECRET}@broker:9092",
        f"bob:{SECRET}@broker:9092",
        f"broker:9092, sasl://bob:p@ss/{SECRET}@broker2:9092",
    ],
)
def test_bootstrap_servers_with_user_info_are_refused_without_echoing_it(servers: str) -> None:
    with pytest.raises(MessagingSettingsError, match=r"bootstrap_servers takes 'host:port' entries") as error:
        KafkaConfig.from_settings(view({"bootstrap_servers": servers}))
    message = str(error.value)
    assert SECRET not in message and "bob" not in message and "p@ss" not in message
    assert "system.resources.kafka.sasl.password" in message


def test_a_missing_password_is_not_echoed() -> None:
    with pytest.raises(MessagingSettingsError) as error:
        KafkaConfig.from_settings(view({"sasl": {"username": "bob", "password": 12345}}))
    assert "12345" not in str(error.value)


def test_tls_settings_select_ssl() -> None:
    config = KafkaConfig.from_settings(view({"tls": {"enabled": True, "check_hostname": False}}))
    assert config.security_protocol == "SSL" and config.ssl_context is not None
    assert config.ssl_context.check_hostname is False
    both = KafkaConfig.from_settings(view({"tls": {"enabled": True}, "sasl": {"username": "u", "password": "p"}}))
    assert both.security_protocol == "SASL_SSL"


def test_unknown_sasl_and_tls_keys_are_refused_naming_them() -> None:
    with pytest.raises(MessagingSettingsError) as raised:
        KafkaConfig.from_settings(
            view({"sasl": {"username": "u", "password": SECRET, "mechansim": "PLAIN"}, "tls": {"ca_file": "x"}})
        )
    text = str(raised.value)
    assert "setting system.resources.kafka.sasl.mechansim is unknown (known: mechanism, password, username)" in text
    assert "setting system.resources.kafka.tls.ca_file is unknown (known: cafile, certfile" in text
    assert SECRET not in text

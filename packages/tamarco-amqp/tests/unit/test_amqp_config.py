"""Settings parsing of the AMQP resource: the reference's keys, url, TLS, prefetch, checks."""

from __future__ import annotations

import ssl

import pytest
from tamarco.core.messaging import MessagingSettingsError
from tamarco.resources.io.amqp import AMQPConfig


def parse(**settings):
    return AMQPConfig.from_settings(lambda key, default: settings.get(key, default), lambda key: f"amqp.{key}")


def test_defaults():
    config = parse()
    assert (config.host, config.port, config.vhost, config.user, config.queues_prefix) == (
        "127.0.0.1",
        5672,
        "/",
        "guest",
        "",
    )
    assert config.prefetch is None and config.tls is False
    assert config.address == "127.0.0.1:5672/"


def test_naming_is_the_default_scheme_or_0_1_quoted_or_not():
    assert parse().naming == "default"
    assert parse(naming="0.1").naming == "0.1"
    assert parse(naming=0.1).naming == "0.1"  # YAML's unquoted naming: 0.1
    assert parse(naming="0.1").describe()["naming"] == "0.1"


def test_the_reference_keys():
    config = parse(
        host="rabbit",
        port=5673,
        vhost="herd",
        user="microservice",
        password=1234,
        connection_timeout=10,
        queues_prefix="prefix",
    )
    assert (config.host, config.port, config.vhost, config.user) == ("rabbit", 5673, "herd", "microservice")
    assert config.password == "1234", "the reference's example has a numeric password"
    assert config.queues_prefix == "prefix"
    assert config.address == "rabbit:5673/herd"
    assert config.url().user == "microservice" and config.url().port == 5673


def test_url_and_keys_override_its_parts():
    config = parse(url="amqps://bob:s%40cret@broker.example:5999/prod%2Fa", port=6000)
    assert (config.host, config.port, config.user, config.password, config.vhost, config.tls) == (
        "broker.example",
        6000,
        "bob",
        "s@cret",
        "prod/a",
        True,
    )


def test_tls_defaults_to_port_5671_and_builds_a_context(tmp_path):
    config = parse(tls=True, verify=False)
    assert config.port == 5671
    context = config.ssl_context()
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE
    assert parse().ssl_context() is None
    with pytest.raises(FileNotFoundError):
        parse(tls=True, ca_file=str(tmp_path / "missing-ca.pem")).ssl_context()


def test_the_password_is_in_no_description():
    config = parse(password="hunter2-secret", url="amqp://u:hunter2-secret@h/v")
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in str(config.describe())
    assert "hunter2-secret" not in config.address


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"port": "x"}, "amqp.port must be a TCP port"),
        ({"port": 70000}, "amqp.port must be a TCP port"),
        ({"host": ""}, "amqp.host must not be empty"),
        ({"vhost": 3}, "amqp.vhost must be a string"),
        ({"prefetch": 0}, "amqp.prefetch must be a whole number >= 1"),
        ({"tls": "yes"}, "amqp.tls must be true or false"),
        ({"url": "http://h/"}, "amqp.url must be an amqp:// or amqps:// URL, got scheme 'http'"),
        ({"reconnect_interval_seconds": 0}, "amqp.reconnect_interval_seconds must be a number of seconds > 0"),
        ({"key_file": "k.pem"}, "amqp.key_file needs amqp.cert_file"),
        ({"naming": "0.2"}, "amqp.naming must be one of 'default', '0.1', got '0.2'"),
    ],
)
def test_wrong_values_name_the_key(settings, message):
    with pytest.raises(MessagingSettingsError, match=message):
        parse(**settings)


def test_every_wrong_key_is_reported_at_once():
    with pytest.raises(MessagingSettingsError, match=r"^4 wrong settings: ") as raised:
        parse(url="http://u:topsecret@h/", port="x", prefetch=0, key_file="k.pem", vhost="/v")
    message = str(raised.value)
    for part in (
        "amqp.url must be an amqp:// or amqps:// URL",
        "amqp.port must be a TCP port",
        "amqp.prefetch must be a whole number >= 1",
        "amqp.key_file needs amqp.cert_file",
    ):
        assert part in message
    assert "topsecret" not in message


def test_a_wrong_url_does_not_echo_the_password():
    with pytest.raises(MessagingSettingsError) as raised:
        parse(url="http://u:topsecret@h/")
    assert "topsecret" not in str(raised.value)


@pytest.mark.parametrize(
    "password",
    [
        "Qp@Zss/Ww:rd%",  # the shape: read as host 'Zss' and vhost 'Ww:rd%@...' otherwise
        "Qpa?Zss",
        "Qpa#Zss",
        "Qp@Zss",
        "Q50%Zoff",
        "Qtwo Zwords",
    ],
)
def test_a_url_whose_user_info_is_not_encoded_is_refused_without_echoing_any_of_it(password):
    with pytest.raises(MessagingSettingsError, match=r"amqp.url is not a valid URL: .*percent-encode") as raised:
        parse(url=f"amqp://probe:{password}@127.0.0.1:41449/")
    message = str(raised.value)
    assert "Q" not in message and "Z" not in message, "no part of the password"
    assert "probe" not in message and "127.0.0.1" not in message and "41449" not in message


def test_an_encoded_password_with_every_special_character_is_taken():
    config = parse(url="amqp://probe:p%40ss%2Fw%3Ard%25%3F%23@127.0.0.1:41449/")
    assert (config.host, config.port, config.user, config.password) == ("127.0.0.1", 41449, "probe", "p@ss/w:rd%?#")

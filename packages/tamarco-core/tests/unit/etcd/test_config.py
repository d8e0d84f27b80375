"""Connection settings from ``TAMARCO_ETCD_*`` variables; credentials never shown."""

import grpc
import pytest
from tamarco.core.etcd import GRPC_OPTIONS, EtcdConfigurationError, EtcdConnectionConfig, TamarcoEtcdClient

SECRET = "s3cr3t-pa55"


def test_defaults():
    config = EtcdConnectionConfig.from_environment({"TAMARCO_ETCD_HOST": "etcd.local"})
    assert (config.host, config.port, config.namespace) == ("etcd.local", 2379, "")
    assert config.user is None and config.password is None and not config.tls
    assert config.check_key is None
    assert config.address == "etcd.local:2379"


def test_every_variable_is_read():
    config = EtcdConnectionConfig.from_environment(
        {
            "TAMARCO_ETCD_HOST": "h",
            "TAMARCO_ETCD_PORT": "2399",
            "TAMARCO_ETCD_USER": "svc",
            "TAMARCO_ETCD_PASSWORD": SECRET,
            "TAMARCO_ETCD_PREFIX": "staging/",
            "TAMARCO_ETCD_STARTUP_TIMEOUT": "7.5",
            "TAMARCO_ETCD_TIMEOUT": "2",
            "ETCD_CHECK_KEY": "etcd_ready",
            "TAMARCO_ETCD_CHECK_TIMEOUT": "12",
        }
    )
    assert (config.port, config.user, config.password, config.namespace) == (2399, "svc", SECRET, "/staging")
    assert (config.startup_timeout, config.request_timeout) == (7.5, 2.0)
    assert (config.check_key, config.check_timeout) == ("etcd_ready", 12.0)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "TAMARCO_ETCD_HOST"),
        ({"TAMARCO_ETCD_PORT": "http"}, "TAMARCO_ETCD_PORT"),
        ({"TAMARCO_ETCD_PORT": "70000"}, "TAMARCO_ETCD_PORT"),
        ({"TAMARCO_ETCD_STARTUP_TIMEOUT": "soon"}, "TAMARCO_ETCD_STARTUP_TIMEOUT"),
        ({"TAMARCO_ETCD_CHECK_TIMEOUT": "-1"}, "TAMARCO_ETCD_CHECK_TIMEOUT"),
        ({"TAMARCO_ETCD_USER": "svc"}, "TAMARCO_ETCD_PASSWORD"),
        ({"TAMARCO_ETCD_PASSWORD": SECRET}, "TAMARCO_ETCD_USER"),
        ({"TAMARCO_ETCD_CERT": "c.pem"}, "TAMARCO_ETCD_KEY"),
    ],
)
def test_bad_variables_name_the_variable_and_never_the_password(variables, named):
    environ = {"TAMARCO_ETCD_HOST": "h", **variables} if variables else {}
    if "TAMARCO_ETCD_USER" not in variables and "TAMARCO_ETCD_PASSWORD" not in variables and variables:
        environ.update({"TAMARCO_ETCD_USER": "svc", "TAMARCO_ETCD_PASSWORD": SECRET})
    with pytest.raises(EtcdConfigurationError) as info:
        EtcdConnectionConfig.from_environment(environ)
    assert named in str(info.value)
    assert SECRET not in str(info.value)


def test_the_password_is_not_in_repr_or_address():
    config = EtcdConnectionConfig(host="h", user="svc", password=SECRET)
    client = config.client()
    assert isinstance(client, TamarcoEtcdClient) and client.config is config
    for text in (repr(config), str(config), repr(client), config.address):
        assert SECRET not in text
    assert "svc" in repr(config)


def test_keepalive_respects_etcd_server_policy():
    """etcd 3.4 (``--grpc-keepalive-min-time`` 5 s, pings only while a call is open) sends
    ``GOAWAY too_many_pings`` to a client that pings more often or pings an idle connection."""
    assert GRPC_OPTIONS["grpc.keepalive_time_ms"] >= 2 * 5000
    assert GRPC_OPTIONS["grpc.keepalive_permit_without_calls"] == 0
    assert EtcdConnectionConfig(host="h").client()._options == GRPC_OPTIONS


def test_tls_files_make_a_secure_channel(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    config = EtcdConnectionConfig.from_environment({"TAMARCO_ETCD_HOST": "h", "TAMARCO_ETCD_CA": str(ca)})
    assert config.tls and config.address == "https://h:2379"
    assert isinstance(config.channel_credentials(), grpc.ChannelCredentials)
    assert EtcdConnectionConfig(host="h").channel_credentials() is None


def test_a_missing_tls_file_names_the_variable_and_path(tmp_path):
    missing = tmp_path / "nope.pem"
    config = EtcdConnectionConfig.from_environment({"TAMARCO_ETCD_HOST": "h", "TAMARCO_ETCD_CA": str(missing)})
    with pytest.raises(EtcdConfigurationError) as info:
        config.client()
    assert "TAMARCO_ETCD_CA" in str(info.value) and str(missing) in str(info.value)

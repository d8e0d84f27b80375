"""Several etcd members in ``TAMARCO_ETCD_HOST``: one gRPC target over all of them."""

import pytest
from tamarco.core.etcd import EtcdConfigurationError, EtcdConnectionConfig


def config(host: str, **variables: str) -> EtcdConnectionConfig:
    return EtcdConnectionConfig.from_environment({"TAMARCO_ETCD_HOST": host, **variables})


def test_one_host_is_unchanged():
    single = config("etcd.local", TAMARCO_ETCD_PORT="2399")
    assert single.endpoints == (("etcd.local", 2399),)
    assert single.target == "etcd.local:2399" == single.address


def test_a_comma_list_is_every_member_in_order():
    cluster = config("127.0.0.1:2379, 127.0.0.1:22379,127.0.0.2", TAMARCO_ETCD_PORT="32379")
    assert cluster.endpoints == (("127.0.0.1", 2379), ("127.0.0.1", 22379), ("127.0.0.2", 32379))
    assert (cluster.host, cluster.port) == ("127.0.0.1", 2379)
    assert cluster.target == "ipv4:127.0.0.1:2379,127.0.0.1:22379,127.0.0.2:32379"
    assert cluster.address == "127.0.0.1:2379,127.0.0.1:22379,127.0.0.2:32379"


def test_ipv6_members():
    cluster = config("[::1]:2379,[::1]:22379,::1")
    assert cluster.endpoints == (("::1", 2379), ("::1", 22379), ("::1", 2379))
    assert cluster.target == "ipv6:[::1]:2379,[::1]:22379,[::1]:2379"


@pytest.mark.parametrize(
    ("host", "named"),
    [
        ("etcd-0:2379,etcd-1:2379", "'etcd-0'"),
        ("127.0.0.1:2379,[::1]:2379", "IPv4 or all IPv6"),
        ("127.0.0.1:notaport,127.0.0.1:2", "TAMARCO_ETCD_HOST"),
        ("127.0.0.1:70000", "port number"),
        (" , ", "TAMARCO_ETCD_HOST"),
    ],
)
def test_bad_lists_name_the_variable_and_the_problem(host, named):
    with pytest.raises(EtcdConfigurationError, match="TAMARCO_ETCD_HOST") as caught:
        config(host)
    assert named in str(caught.value)


def test_the_client_dials_the_cluster_target():
    client = config("127.0.0.1:2379,127.0.0.1:22379").client()
    assert client.config.target.startswith("ipv4:")
    assert "127.0.0.1:2379,127.0.0.1:22379" in repr(client)

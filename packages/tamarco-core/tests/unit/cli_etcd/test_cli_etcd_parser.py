"""``tamarco etcd`` argument parsing and connection defaults (no etcd)."""

import pytest
from tamarco.cli.etcd import connection_config
from tamarco.cli.main import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["etcd", "--host", "h", "--port", "2399", "read", "system.a"],
        ["etcd", "read", "system.a", "--host", "h", "--port", "2399"],
    ],
)
def test_connection_options_go_before_or_after_the_action(argv):
    args = build_parser().parse_args(argv)
    assert (args.host, args.port, args.key, args.etcd_command) == ("h", 2399, "system.a", "read")


def test_actions_and_their_arguments():
    parser = build_parser()
    write = parser.parse_args(["etcd", "write_yml", "s.yml", "--replace"])
    assert (write.file, write.replace, write.host) == ("s.yml", True, None)
    delete = parser.parse_args(["etcd", "delete", "system.x", "--prefix", "/t"])
    assert (delete.key, delete.prefix) == ("system.x", "/t")
    with pytest.raises(SystemExit):
        parser.parse_args(["etcd"])


def test_options_override_the_environment_which_overrides_the_defaults():
    env = {"TAMARCO_ETCD_HOST": "envhost", "TAMARCO_ETCD_PORT": "2400", "TAMARCO_ETCD_PREFIX": "/env"}
    assert connection_config(environ={}).address == "127.0.0.1:2379"
    from_env = connection_config(environ=env)
    assert (from_env.host, from_env.port, from_env.namespace) == ("envhost", 2400, "/env")
    explicit = connection_config("h", 2500, "/cli", environ=env)
    assert (explicit.host, explicit.port, explicit.namespace) == ("h", 2500, "/cli")

"""``tamarco etcd write_yml/read/delete`` against the harness's etcd: a YAML file round trip."""

import asyncio
import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml
from tamarco.cli.main import main
from tamarco.core.settings import Settings

pytestmark = pytest.mark.functional

SETTINGS_YAML = textwrap.dedent(
    """\
    etcd_ready: true
    system:
      deploy_name: cli_round_trip
      logging:
        profile: DEVELOP
        stdout: yes
      resources:
        amqp:
          host: 127.0.0.1
          port: 5672
          ratio: 0.75
          retries: -3
          big: 12345678901234567890
          enabled: false
          version: "1.10"
          octal_looking: "0755"
          nothing: null
          queues: [orders, 42, 2.5, true, null, {name: nested, durable: no}]
          empty: {}
          deep:
            er:
              est: [[1, 2], [3]]
      microservices:
        dog:
          logging:
            profile: PRODUCTION
    """
)


@pytest.fixture
def cli(etcd_service, etcd_prefix, capsys):
    """Run ``tamarco etcd ...`` in-process against this test's namespace: (exit code, out, err)."""

    def run(*args):
        code = main(
            ["etcd", "--host", etcd_service.host, "--port", str(etcd_service.port), "--prefix", etcd_prefix, *args]
        )
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_write_yml_reads_back_identical_in_the_cli_and_in_a_service(cli, tmp_path, etcd_service, etcd_prefix):
    path = tmp_path / "settings.yml"
    path.write_text(SETTINGS_YAML)
    expected = yaml.safe_load(SETTINGS_YAML)

    code, out, err = cli("write_yml", str(path))
    assert code == 0, err
    assert "wrote 17 settings" in out

    # Raw etcd: one JSON value per leaf, dicts as subtrees.
    assert json.loads(etcd_service.get(etcd_prefix + "system/resources/amqp/port")) == 5672
    assert json.loads(etcd_service.get(etcd_prefix + "system/resources/amqp/version")) == "1.10"
    assert json.loads(etcd_service.get(etcd_prefix + "system/resources/amqp/empty")) == {}

    code, out, err = cli("read", "system")
    assert code == 0, err
    assert yaml.safe_load(out) == expected["system"]
    code, out, _ = cli("read", "system.resources.amqp.queues", "--json")
    assert json.loads(out) == expected["system"]["resources"]["amqp"]["queues"]
    code, out, _ = cli("read", "etcd_ready")
    assert yaml.safe_load(out) is True

    env = {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix}

    async def read_in_a_service():
        settings = Settings("cat", environ=env)
        await settings.start()
        try:
            return await settings.get("system")
        finally:
            await settings.stop()

    loaded = asyncio.run(read_in_a_service())
    amqp = loaded["resources"]["amqp"]
    assert loaded == expected["system"]
    assert type(amqp["port"]) is int and type(amqp["ratio"]) is float and type(amqp["enabled"]) is bool
    assert amqp["big"] == 12345678901234567890 and amqp["octal_looking"] == "0755"
    assert loaded["logging"]["stdout"] is True  # what YAML made of "yes"


def test_write_yml_merges_and_replace_drops_stale_keys(cli, tmp_path):
    first = tmp_path / "first.yml"
    first.write_text("system:\n  a: {x: 1, y: 2}\n  b: 1\n")
    second = tmp_path / "second.yml"
    second.write_text("system:\n  a: {x: 10}\n  b: {nested: true}\n")
    assert cli("write_yml", str(first))[0] == 0
    assert cli("write_yml", str(second))[0] == 0
    # Merge: y stays; a dict replaces the scalar b.
    assert yaml.safe_load(cli("read", "system")[1]) == {"a": {"x": 10, "y": 2}, "b": {"nested": True}}
    assert cli("write_yml", str(first), "--replace")[0] == 0
    assert yaml.safe_load(cli("read", "system")[1]) == {"a": {"x": 1, "y": 2}, "b": 1}


def test_delete_removes_the_subtree_and_read_of_a_missing_key_fails(cli, tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("system:\n  keep: 1\n  gone: {a: 1, b: {c: 2}}\n")
    assert cli("write_yml", str(path))[0] == 0
    code, out, _ = cli("delete", "system.gone")
    assert code == 0 and "deleted 2 keys" in out
    code, _, err = cli("read", "system.gone")
    assert code == 1
    assert "no setting system.gone" in err
    assert yaml.safe_load(cli("read", "system")[1]) == {"keep": 1}


def test_bad_files_and_values_are_reported_without_writing(cli, tmp_path):
    dates = tmp_path / "dates.yml"
    dates.write_text("system:\n  release: 2024-01-31\n")
    code, _, err = cli("write_yml", str(dates))
    assert code == 1 and "system.release" in err and "date" in err
    int_keys = tmp_path / "int_keys.yml"
    int_keys.write_text("system:\n  codes:\n    404: not found\n")
    code, _, err = cli("write_yml", str(int_keys))
    assert code == 1 and "system.codes" in err and "404" in err
    assert cli("read", "system")[0] == 1  # nothing was written
    code, _, err = cli("write_yml", str(tmp_path / "missing.yml"))
    assert code == 1 and "missing.yml" in err


def test_console_script_defaults_to_the_environment(etcd_service, etcd_prefix, tmp_path):
    path = tmp_path / "s.yml"
    path.write_text("system:\n  from_env: 7\n")
    env = {**os.environ, **etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix}
    tamarco = [sys.executable, "-m", "tamarco.cli.main"]
    write = subprocess.run(
        [*tamarco, "etcd", "write_yml", str(path)], env=env, capture_output=True, text=True, timeout=30
    )
    assert write.returncode == 0, write.stderr
    read = subprocess.run(
        [*tamarco, "etcd", "read", "system.from_env"], env=env, capture_output=True, text=True, timeout=30
    )
    assert read.returncode == 0, read.stderr
    assert yaml.safe_load(read.stdout) == 7


def test_unreachable_etcd_is_a_clear_error(free_port, capsys):
    code = main(["etcd", "read", "system", "--host", "127.0.0.1", "--port", str(free_port)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"127.0.0.1:{free_port}" in err and "unreachable" in err


def test_files_larger_than_one_etcd_transaction(cli, tmp_path):
    tree = {"system": {"many": {f"key_{i:03d}": {"n": i, "even": i % 2 == 0} for i in range(150)}}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(tree))
    code, out, err = cli("write_yml", str(path))
    assert code == 0, err
    assert "wrote 300 settings" in out
    assert yaml.safe_load(cli("read", "system.many")[1]) == tree["system"]["many"]

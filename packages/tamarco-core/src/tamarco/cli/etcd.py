"""``tamarco etcd write_yml FILE | read KEY | delete KEY``: settings in etcd from the shell.

The commands use :mod:`tamarco.core.etcd`, the connection and key/value mapping services use (dotted key → ``/``-joined
etcd key under ``TAMARCO_ETCD_PREFIX``, JSON values, dicts as subtrees), so a YAML file written
here reads back identical in a service: ints stay ints, ``yes`` stays whatever YAML made of it.

``--host``/``--port`` default to ``TAMARCO_ETCD_HOST``/``TAMARCO_ETCD_PORT`` (then
``127.0.0.1:2379``); credentials and TLS files come from the same ``TAMARCO_ETCD_*`` variables
a service reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import yaml
from tamarco.core.etcd import EtcdConnectionConfig, EtcdUnavailableError, describe_error
from tamarco.core.settings import keys
from tamarco.core.settings.backends.file import load_settings_file

__all__ = ["delete", "read", "register", "write_yml"]

DEFAULT_HOST = "127.0.0.1"


class SettingNotInEtcd(LookupError):
    """``tamarco etcd read`` of a key that holds nothing."""


def register(commands: Any) -> None:
    """Add ``tamarco etcd ...`` to the ``tamarco`` parser."""
    parser = commands.add_parser(
        "etcd",
        help="read and write settings in etcd",
        description="Read and write settings in etcd with the mapping Tamarco services use.",
    )
    _add_connection_options(parser, None)
    # The same options after the action (``tamarco etcd read KEY --port 2379``) too.
    common = argparse.ArgumentParser(add_help=False)
    _add_connection_options(common, argparse.SUPPRESS)
    actions = parser.add_subparsers(dest="etcd_command", required=True, metavar="ACTION")

    write = actions.add_parser("write_yml", parents=[common], help="write every setting of a YAML (or JSON) file")
    write.add_argument("file", help="the settings file; its top-level keys are written at the root")
    write.add_argument(
        "--replace",
        action="store_true",
        help="delete keys under each top-level key of the file that the file does not have",
    )
    write.set_defaults(handler=_run_write_yml)

    read_parser = actions.add_parser("read", parents=[common], help="print the value (or subtree) of a dotted key")
    read_parser.add_argument("key", help="dotted settings key, e.g. system.logging.profile")
    read_parser.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    read_parser.set_defaults(handler=_run_read)

    delete_parser = actions.add_parser("delete", parents=[common], help="delete a dotted key and everything under it")
    delete_parser.add_argument("key", help="dotted settings key")
    delete_parser.set_defaults(handler=_run_delete)


def _add_connection_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--host", default=default, help="etcd host (default: $TAMARCO_ETCD_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=default, help="etcd port (default: $TAMARCO_ETCD_PORT or 2379)")
    parser.add_argument("--prefix", default=default, help="key namespace (default: $TAMARCO_ETCD_PREFIX, none)")


def connection_config(
    host: str | None = None,
    port: int | None = None,
    prefix: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> EtcdConnectionConfig:
    """The CLI's connection: explicit options over ``TAMARCO_ETCD_*`` variables over defaults."""
    env = dict(os.environ if environ is None else environ)
    env["TAMARCO_ETCD_HOST"] = host or env.get("TAMARCO_ETCD_HOST") or DEFAULT_HOST
    if port is not None:
        env["TAMARCO_ETCD_PORT"] = str(port)
    if prefix is not None:
        env["TAMARCO_ETCD_PREFIX"] = prefix
    return EtcdConnectionConfig.from_environment(env)


async def write_yml(path: str, config: EtcdConnectionConfig, *, replace: bool = False) -> int:
    """Write every setting of a YAML/JSON file; returns how many leaves were written.

    Top-level keys holding a scalar (``etcd_ready: true``) are written last, so a service
    waiting on ``ETCD_CHECK_KEY`` finds the rest in place.
    """
    tree = load_settings_file(path)
    items = sorted(tree.items(), key=lambda item: not isinstance(item[1], Mapping))
    return await _with_store(config, lambda store: store.write(items, replace=replace))


async def read(key: str, config: EtcdConnectionConfig) -> Any:
    """The value of a dotted key (a subtree as a dict); :class:`SettingNotInEtcd` if none."""
    value = await _with_store(config, lambda store: store.read(key))
    if value is keys.MISSING:
        raise SettingNotInEtcd(f"no setting {key} in etcd at {config.address}{config.namespace}")
    return value


async def delete(key: str, config: EtcdConnectionConfig) -> int:
    """Delete a dotted key and its subtree; returns how many etcd keys were deleted."""
    return int(await _with_store(config, lambda store: store.delete(key)))


async def _with_store(config: EtcdConnectionConfig, operation: Any) -> Any:
    # Here, not at the top: the CLI's other commands work without the etcd extra (aetcd).
    from tamarco.core.etcd import RETRYABLE_ERRORS, EtcdSettingsStore, close_quietly

    client = config.client()
    try:
        return await operation(EtcdSettingsStore(client, config.namespace))
    except RETRYABLE_ERRORS as error:
        raise EtcdUnavailableError(f"etcd at {config.address} is unreachable ({describe_error(error)})") from None
    finally:
        await close_quietly(client)


def _config_from_args(args: argparse.Namespace) -> EtcdConnectionConfig:
    return connection_config(args.host, args.port, args.prefix)


def _run_write_yml(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = _config_from_args(args)
    count = asyncio.run(write_yml(args.file, config, replace=args.replace))
    print(f"wrote {count} settings from {args.file} to etcd at {config.address}{config.namespace}", file=out)
    return 0


def _run_read(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    value = asyncio.run(read(args.key, _config_from_args(args)))
    if args.json:
        print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False), file=out)
    else:
        out.write(yaml.safe_dump(value, default_flow_style=False, sort_keys=True, allow_unicode=True))
    return 0


def _run_delete(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config = _config_from_args(args)
    count = asyncio.run(delete(args.key, config))
    print(f"deleted {count} keys under {args.key} in etcd at {config.address}{config.namespace}", file=out)
    return 0

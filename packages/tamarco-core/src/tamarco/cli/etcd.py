"""``tamarco etcd write_yml|read|delete``: implemented with the etcd settings backend."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser("etcd", help="read and write settings in etcd")
    parser.set_defaults(handler=lambda args: parser.error("the etcd commands are not available yet"))

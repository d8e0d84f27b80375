"""``tamarco version`` and ``tamarco --version``: every installed tamarco distribution."""

from __future__ import annotations

import argparse
from typing import Any

from tamarco.core.versions import installed_distributions

__all__ = ["VersionAction", "format_versions", "register", "run"]


def format_versions() -> str:
    """One ``<distribution> <version>`` line per installed tamarco distribution."""
    return "\n".join(f"{name} {version}" for name, version in installed_distributions().items())


class VersionAction(argparse.Action):
    """``--version``: print the set and exit, like argparse's own, computed only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(format_versions())
        parser.exit()


def register(commands: Any) -> None:
    parser = commands.add_parser("version", help="print every installed tamarco distribution and its version")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(format_versions())
    return 0

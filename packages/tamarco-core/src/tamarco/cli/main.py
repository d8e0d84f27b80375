"""``tamarco`` console script: ``tamarco start_project``, ``tamarco etcd ...``, ``tamarco version``,
``tamarco asyncapi`` / ``tamarco openapi``.

Subcommands live in their own modules and register themselves on the parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tamarco.cli import contracts, etcd, start_project, version
from tamarco.core.extras import MissingExtraError, missing_extra


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tamarco", description="Tamarco microservices framework tools")
    parser.add_argument("--version", action=version.VersionAction, help="print the installed tamarco distributions")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start_project.register(commands)
    etcd.register(commands)
    version.register(commands)
    contracts.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ImportError as error:  # an optional dependency: the message names the command and the extra
        reported = missing_extra(error, f"tamarco {args.command}")
        prefix = "" if isinstance(reported, MissingExtraError) else f"tamarco {args.command}: "
        print(f"{prefix}{reported}", file=sys.stderr)
        return 1
    except Exception as error:  # the CLI's top level: report, do not dump a traceback
        print(f"tamarco {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

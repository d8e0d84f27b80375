"""``tamarco start_project``: a new service skeleton from the cookiecutter template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

TEMPLATE_NAME = "microservice"


def template_path() -> Path:
    """The template shipped in the wheel, or the repository's ``templates/`` in a checkout."""
    here = Path(__file__).resolve().parent
    shipped = here / "templates" / TEMPLATE_NAME
    if shipped.is_dir():
        return shipped
    for parent in here.parents:
        candidate = parent / "templates" / TEMPLATE_NAME
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise FileNotFoundError("the tamarco project template is not installed")


def register(commands: Any) -> None:
    parser = commands.add_parser("start_project", help="create a new microservice project")
    parser.add_argument("--output-dir", default=".", help="where to create the project (default: here)")
    parser.add_argument("--no-input", action="store_true", help="do not prompt; use defaults and --set values")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="template value, repeatable")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cookiecutter.main import cookiecutter

    extra: dict[str, str] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        extra[key] = value
    created = cookiecutter(
        str(template_path()), no_input=args.no_input, extra_context=extra, output_dir=args.output_dir
    )
    print(f"Project created in {created}")
    return 0

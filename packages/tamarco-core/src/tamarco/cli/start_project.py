"""``tamarco start_project``: a new service skeleton from the cookiecutter template.

Before anything is written, the project name is checked: its slug (lower case, spaces and
dashes as underscores) must be a Python identifier that is not a keyword, because it names
the package. An existing non-empty target directory needs ``--force``. The template is copied
to a temporary directory without ``__pycache__``/``*.pyc`` (pip byte-compiles the template
shipped in the wheel) before cookiecutter renders it.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

TEMPLATE_NAME = "microservice"

#: What is never copied from the template into a project.
IGNORED = ("__pycache__", "*.pyc", "*.pyo")


class ProjectNameError(ValueError):
    """A project name or slug that would generate a package Python cannot import."""


class ProjectExistsError(FileExistsError):
    """The target directory exists and is not empty (``--force`` writes into it)."""


def template_path() -> Path:
    """The template shipped in the wheel (a folder, or a ``.zip`` that pip cannot byte-compile),
    or the repository's ``templates/`` in a checkout."""
    here = Path(__file__).resolve().parent
    shipped = here / "templates" / TEMPLATE_NAME
    if shipped.is_dir():
        return shipped
    if shipped.with_suffix(".zip").is_file():
        return shipped.with_suffix(".zip")
    for parent in here.parents:
        candidate = parent / "templates" / TEMPLATE_NAME
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise FileNotFoundError("the tamarco project template is not installed")


def slugify(project_name: str) -> str:
    """The package name derived from a project name, as the template's ``project_slug`` does."""
    return project_name.lower().replace(" ", "_").replace("-", "_")


def check_project_name(project_name: str, project_slug: str | None = None) -> str:
    """The slug of a valid project name; :class:`ProjectNameError` naming the problem otherwise."""
    if not project_name.strip() or project_name in (".", "..") or re.search(r"[/\\\x00]", project_name):
        raise ProjectNameError(f"project_name {project_name!r} cannot name a directory")
    slug = project_slug if project_slug is not None else slugify(project_name)
    if not slug.isidentifier() or not slug.isascii():
        raise ProjectNameError(
            f"project_name {project_name!r} gives the package name {slug!r}, which is not a Python identifier "
            "(use letters, digits, '-', '_' or spaces, and do not start with a digit)"
        )
    if keyword.iskeyword(slug) or keyword.issoftkeyword(slug):
        raise ProjectNameError(f"project_name {project_name!r} gives the package name {slug!r}, a Python keyword")
    return slug


def _template_keys_help() -> str:
    """The template's keys and defaults, for ``tamarco start_project --help``."""
    try:
        defaults = json.loads(_read_template_file(template_path(), "cookiecutter.json"))
    except (OSError, ValueError) as error:
        return f"template keys: unavailable ({error})"
    lines = ["template keys (--set KEY=VALUE; defaults shown):"]
    lines += [f"  {key} = {value}" for key, value in defaults.items() if not key.startswith("_")]
    return "\n".join(lines)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "start_project",
        help="create a new microservice project",
        description="Create a new microservice project from the tamarco template. With NAME, every other "
        "template key takes its default (or a --set value) without prompting; without NAME, each key is asked.",
        epilog=_template_keys_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="the project name (the template's project_name)")
    parser.add_argument("--output-dir", default=".", help="where to create the project (default: here)")
    parser.add_argument("--no-input", action="store_true", help="do not prompt; use defaults and --set values")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="template value, repeatable")
    parser.add_argument("--force", action="store_true", help="write into an existing non-empty project directory")
    parser.set_defaults(handler=run)


def _extra_context(items: list[str]) -> dict[str, str]:
    extra: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        extra[key] = value
    return extra


def _read_template_file(source: Path, name: str) -> str:
    if source.suffix != ".zip":
        return (source / name).read_text()
    with zipfile.ZipFile(source) as archive:
        for candidate in (f"{TEMPLATE_NAME}/{name}", name):
            if candidate in archive.namelist():
                return archive.read(candidate).decode()
    raise FileNotFoundError(f"{source} holds no {name}")


def _check_target(target: Path, force: bool) -> bool:
    """Whether cookiecutter may write into ``target``: it is absent, empty, or ``force`` is given."""
    if not target.exists():
        return force
    if (not target.is_dir() or any(target.iterdir())) and not force:
        raise ProjectExistsError(f"{target} exists and is not empty; pass --force to write into it")
    return True


def run(args: argparse.Namespace) -> int:
    from cookiecutter.main import cookiecutter

    extra = _extra_context(args.set)
    if args.name is not None:
        if extra.setdefault("project_name", args.name) != args.name:
            given = extra["project_name"]
            raise ValueError(f"the project name is given twice: {args.name!r} and --set project_name={given!r}")
        args.no_input = True
    source = template_path()
    overwrite = bool(args.force)
    if args.no_input:
        defaults = json.loads(_read_template_file(source, "cookiecutter.json"))
        name = extra.get("project_name", defaults["project_name"])
        check_project_name(name, extra.get("project_slug"))
        overwrite = _check_target(Path(args.output_dir) / name, args.force)
    # Interactive answers are checked by the template's pre_gen_project hook, and an existing
    # directory by cookiecutter itself (overwrite_if_exists is --force).
    with tempfile.TemporaryDirectory(prefix="tamarco-template-") as scratch:
        clean = Path(scratch) / TEMPLATE_NAME
        if source.suffix == ".zip":
            unpacked = Path(scratch) / "unpacked"
            with zipfile.ZipFile(source) as archive:
                archive.extractall(unpacked)
            source = unpacked / TEMPLATE_NAME if (unpacked / TEMPLATE_NAME).is_dir() else unpacked
        shutil.copytree(source, clean, ignore=shutil.ignore_patterns(*IGNORED))
        created = cookiecutter(
            str(clean),
            no_input=args.no_input,
            extra_context=extra,
            output_dir=args.output_dir,
            overwrite_if_exists=overwrite,
        )
    print(f"Project created in {created}")
    return 0

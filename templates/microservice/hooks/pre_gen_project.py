"""Refuse a project name whose package name would not be importable (interactive answers;
``tamarco start_project --no-input`` checks before cookiecutter runs)."""

import keyword
import sys

project_name = "{{ cookiecutter.project_name }}"
slug = "{{ cookiecutter.project_slug }}"

if not slug.isidentifier() or not slug.isascii() or keyword.iskeyword(slug):
    print(
        f"project_name {project_name!r} gives the package name {slug!r}, which is not a Python identifier "
        "(use letters, digits, '-', '_' or spaces, and do not start with a digit)",
        file=sys.stderr,
    )
    sys.exit(1)

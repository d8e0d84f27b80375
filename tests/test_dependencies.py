"""Dependencies point one way: every distribution imports only core, itself and what it declares.

For each distribution under ``packages/`` and ``harness/``, the AST of every source module is
walked: each ``tamarco.*`` import (absolute or relative, at module level, inside a function or
under ``TYPE_CHECKING``) must resolve to a module of the distribution itself, of tamarco-core, or
of a distribution its ``pyproject.toml`` declares (``dependencies`` or an extra). No string
literal (docstrings aside) may name a module of another plugin: ``importlib.import_module`` of
a plugin, or a plugin's module given to ``sys.modules``, would hide a dependency from this test.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "tamarco-core"
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_MODULE_IN_STRING = re.compile(r"\btamarco(?:\.\w+)+")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Distribution:
    name: str
    root: Path
    declared: set[str]
    #: dotted module name -> source file, for every module and package under src/
    modules: dict[str, Path] = field(default_factory=dict)


def _distributions() -> list[Distribution]:
    found = []
    for pyproject in sorted([*ROOT.glob("packages/*/pyproject.toml"), ROOT / "harness" / "pyproject.toml"]):
        project = tomllib.loads(pyproject.read_text())["project"]
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements.extend(extra)
        declared = set()
        for requirement in requirements:
            match = _REQUIREMENT_NAME.match(requirement)
            if match:
                declared.add(_normalize(match.group(1)))
        distribution = Distribution(_normalize(project["name"]), pyproject.parent, declared)
        src = pyproject.parent / "src"
        for path in sorted(src.rglob("*.py")) if src.is_dir() else ():
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            distribution.modules[".".join(parts)] = path
            for depth in range(1, len(parts)):  # namespace levels (tamarco, tamarco.resources...)
                distribution.modules.setdefault(".".join(parts[:depth]), src.joinpath(*parts[:depth]))
        found.append(distribution)
    return found


DISTRIBUTIONS = _distributions()


def _owners(module: str) -> set[str]:
    """The distributions providing ``module`` (the longest prefix of it that exists)."""
    parts = module.split(".")
    while parts:
        candidate = ".".join(parts)
        owners = {d.name for d in DISTRIBUTIONS if candidate in d.modules and d.modules[candidate].is_file()}
        if owners:
            return owners
        parts.pop()
    return set()


def _docstring_nodes(tree: ast.AST) -> set[int]:
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                nodes.add(id(body[0].value))
    return nodes


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")
                if not is_package:
                    package.pop()
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:  # ``from tamarco.core import instrumentation`` names a module
                found.append((node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base))
    return [(line, name) for line, name in found if name == "tamarco" or name.startswith("tamarco.")]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda d: d.name)
def test_a_distribution_imports_only_core_itself_and_its_declared_dependencies(distribution: Distribution) -> None:
    allowed = {distribution.name, CORE} | distribution.declared
    problems = []
    for module, path in distribution.modules.items():
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(), str(path))
        for line, name in _imports(tree, module, path.name == "__init__.py"):
            owners = _owners(name)
            if not owners:
                problems.append(f"{path.relative_to(ROOT)}:{line}: imports {name}, which no distribution provides")
            elif not owners & allowed:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: imports {name} of {', '.join(sorted(owners))}, "
                    f"not a declared dependency of {distribution.name}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS, ids=lambda d: d.name)
def test_no_string_names_another_plugins_module(distribution: Distribution) -> None:
    own = {distribution.name, CORE}
    problems = []
    for path in distribution.modules.values():
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(), str(path))
        docstrings = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docstrings:
                continue
            for name in _MODULE_IN_STRING.findall(node.value):
                others = _owners(name) - own
                if others and not _owners(name) & own:
                    problems.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: the string {node.value!r} names {name} "
                        f"of {', '.join(sorted(others))}"
                    )
    assert not problems, "\n".join(problems)


def test_the_walk_sees_every_distribution_and_resolves_modules() -> None:
    names = {d.name for d in DISTRIBUTIONS}
    assert {CORE, "tamarco-http", "tamarco-metrics", "tamarco-status", "tamarco-harness"} <= names
    assert _owners("tamarco.core.instrumentation.counter") == {CORE}
    assert _owners("tamarco.resources.basic.metrics.Counter") == {"tamarco-metrics"}
    assert _owners("tamarco.resources.io.http.report_server") == {"tamarco-http"}
    assert _owners("tamarco.resources") == set()  # a namespace level belongs to no one
    assert "tamarco-http" not in next(d for d in DISTRIBUTIONS if d.name == CORE).declared

"""The documentation site: it builds with warnings as errors, and every Python block of the
docs and of the READMEs runs as pasted.

Every ```` ```python ```` block runs (Sybil), the blocks of one page in order and in one
namespace, so a later block can use what an earlier one defined. A block that cannot run on
its own (a method shown out of its class, code needing a running broker) says so: its fence
reads ```` ```{.python .fragment} ````. No other spelling of a Python fence is allowed, so a
block cannot be skipped by accident. A service's ``run()`` sits under
``if __name__ == "__main__":`` and is not called here (the examples/ tests run the services).

A block with that line is a complete example: it also passes ``mypy --strict`` on its own, as
a user's module would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FRAGMENT = "{.python .fragment}"

sybil = Sybil(parsers=[CodeBlockParser(language="python", evaluator=PythonEvaluator())], path=str(ROOT))
PAGES = sorted(
    [
        *DOCS.rglob("*.md"),
        ROOT / "README.md",
        *ROOT.glob("packages/*/README.md"),
        ROOT / "harness" / "README.md",
    ]
)
RUNNABLE_PAGES = [page for page in PAGES if "```python\n" in page.read_text()]
FENCE = re.compile(r"^[ \t]*`{3,}[ \t]*([^`\s][^\n]*)$", re.MULTILINE)


def test_the_site_builds_without_warnings(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    for page in ("index.html", "quickstart/index.html", "reference/core/index.html", "search/search_index.json"):
        assert (tmp_path / "site" / page).is_file(), page
    reference = (tmp_path / "site" / "reference" / "core" / "index.html").read_text()
    assert "tamarco.core.microservice.Microservice" in reference  # generated from docstrings
    # The docstrings' Sphinx roles are rendered, as links where the reference has the object.
    for page in (tmp_path / "site" / "reference").rglob("index.html"):
        raw = re.findall(r":(?:class|meth|func|attr|mod|exc|data|obj):<code>", page.read_text())
        assert not raw, f"{page}: {len(raw)} Sphinx roles shown raw"
    assert re.search(r'<a class="autorefs[^"]*"[^>]*href="[^"]*#tamarco\.[^"]+"[^>]*><code>\w+', reference)
    # The home page: the install line and a service; long code lines wrap.
    home = (tmp_path / "site" / "index.html").read_text()
    assert "pip install tamarco" in home and "class Hello(Microservice)" in re.sub(r"<[^>]+>", "", home)
    css = (tmp_path / "site" / "stylesheets" / "extra.css").read_text()
    assert "pre-wrap" in css and "stylesheets/extra.css" in home


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_python_block_runs_or_is_marked_a_fragment(page):
    """A fence like ```py or ```python3 would be skipped silently: only two spellings."""
    for info in FENCE.findall(page.read_text()):
        if "py" in info.lower():
            assert info.strip() in ("python", FRAGMENT), f"{page.relative_to(ROOT)}: ```{info}"


def test_runnable_blocks_are_found():
    """A typo in the marker would silently run nothing."""
    assert len(RUNNABLE_PAGES) >= 10, RUNNABLE_PAGES
    for page in RUNNABLE_PAGES:
        assert list(sybil.parse(page)), page


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_python_blocks_run(page, monkeypatch, tmp_path):
    monkeypatch.delenv("TAMARCO_YML_FILE", raising=False)
    monkeypatch.delenv("TAMARCO_ETCD_HOST", raising=False)
    monkeypatch.chdir(ROOT)
    for example in sybil.parse(page):
        example.evaluate()


MAIN = 'if __name__ == "__main__":'
COMPLETE = [(page, example) for page in RUNNABLE_PAGES for example in sybil.parse(page) if MAIN in example.parsed]


@pytest.fixture(scope="module")
def mypy_strict_report(tmp_path_factory) -> dict[str, list[str]]:
    """``mypy --strict`` once over every complete example, as separate modules: errors by file."""
    folder = tmp_path_factory.mktemp("complete-examples")
    names = {}
    for index, (page, example) in enumerate(COMPLETE):
        path = folder / f"example_{index}.py"
        path.write_text(example.parsed)
        names[path.name] = f"{page.relative_to(ROOT)}:{example.line}"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--no-error-summary", *sorted(names)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors: dict[str, list[str]] = {where: [] for where in names.values()}
    for line in result.stdout.splitlines():
        file_name = line.split(":", 1)[0]
        if file_name in names and ": error:" in line:
            errors[names[file_name]].append(line)
    return errors


def test_complete_examples_are_found():
    pages = {page.relative_to(ROOT).as_posix() for page, _ in COMPLETE}
    assert {"docs/amqp.md", "docs/kafka.md", "docs/index.md", "README.md"} <= pages, pages


@pytest.mark.parametrize(
    ("page", "example"),
    [
        pytest.param(
            page,
            example,
            id=f"{page.relative_to(ROOT)}:{example.line}",
        )
        for page, example in COMPLETE
    ],
)
def test_complete_examples_pass_mypy_strict(page, example, mypy_strict_report):
    errors = mypy_strict_report[f"{page.relative_to(ROOT)}:{example.line}"]
    assert not errors, "\n".join(errors)

"""The documentation site: it builds with warnings as errors, and every code block marked
runnable runs.

A block is runnable when its fence reads ```` ```{.python .runnable} ````; the other ``python``
blocks are fragments (they name a service defined elsewhere, or need a broker). Sybil
parses the pages and runs the runnable blocks of one page in order, in one namespace, so a
later block can use what an earlier one defined. Code needing real services is not marked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RUNNABLE = "{.python .runnable}"

sybil = Sybil(parsers=[CodeBlockParser(language=RUNNABLE, evaluator=PythonEvaluator())], path=str(DOCS))
PAGES = sorted(DOCS.rglob("*.md"))
RUNNABLE_PAGES = [page for page in PAGES if f"```{RUNNABLE}\n" in page.read_text()]


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


def test_runnable_blocks_are_found():
    """A typo in the marker would silently run nothing."""
    assert len(RUNNABLE_PAGES) >= 5, RUNNABLE_PAGES
    for page in RUNNABLE_PAGES:
        assert list(sybil.parse(page)), page


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda page: str(page.relative_to(DOCS)))
def test_runnable_blocks_run(page, monkeypatch):
    monkeypatch.delenv("TAMARCO_YML_FILE", raising=False)
    monkeypatch.delenv("TAMARCO_ETCD_HOST", raising=False)
    monkeypatch.chdir(ROOT)
    for example in sybil.parse(page):
        example.evaluate()

"""MkDocs hook: the Sphinx roles of the docstrings (``:class:`~tamarco.core.X```) as links.

The API reference is rendered from docstrings written for Sphinx; mkdocstrings keeps their
inline roles as text (``:class:<code>~tamarco.x.Y</code>``). This hook turns each into an
optional cross-reference that mkdocs-autorefs resolves after every page is rendered: a link to
the object when the reference documents it, the name in code otherwise. ``~`` shows the last
part of the dotted name, as in Sphinx.
"""

from __future__ import annotations

import html
import re
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(class|meth|func|attr|mod|exc|data|obj|const):<code>"
    r"(?:([^<]*?)\s+&lt;(~?)([\w.]+)&gt;|(~?)([\w.]+)(\(\))?)</code>"
)


def on_page_content(html_text: str, **kwargs: Any) -> str:
    return ROLE.sub(_link, html_text)


def _link(match: re.Match[str]) -> str:
    role, title, _, titled_target, short, target, call = match.groups()
    if titled_target is not None:  # :meth:`Title <target>`
        target, shown = titled_target, " ".join(html.unescape(title).split())
    else:
        shown = target.rsplit(".", 1)[-1] if short else target
        if role in ("meth", "func") and not call:
            call = "()"
        shown += call or ""
    return f'<autoref identifier="{html.escape(target)}" optional><code>{html.escape(shown)}</code></autoref>'

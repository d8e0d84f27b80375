"""The tamarco distributions installed in this environment and their versions.

What ``tamarco version`` prints and ``/status`` reports under ``versions``: with one import
namespace spread over many distributions, a bug report needs the whole set, not one number.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

__all__ = ["installed_distributions"]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions() -> dict[str, str]:
    """``{distribution name: version}`` of ``tamarco`` and every ``tamarco-*``, sorted by name.

    Read once per process (``/status`` asks on every request; installs do not change under a
    running service), returned as a new dict each time.
    """
    return dict(_scan())


@cache
def _scan() -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = _normalize(distribution.metadata["Name"] or "")
        if name == "tamarco" or name.startswith("tamarco-"):
            found.setdefault(name, distribution.version)
    return tuple(sorted(found.items()))

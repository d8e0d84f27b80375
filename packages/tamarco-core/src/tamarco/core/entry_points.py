"""Tamarco's entry points (``tamarco.default_resources``, ``tamarco.instrumentation``...), read once.

Every lookup through :mod:`importlib.metadata` reads the ``entry_points.txt`` of every installed
distribution (a few hundred files in a typical environment); a service's start asked three
times (its default resources, the status resource, the instrumentation provider). They are
read once per process here, for every ``tamarco.*`` group at once; :func:`refresh` forgets them
(a test that installs a distribution while running).
"""

from __future__ import annotations

import functools
import importlib.metadata
from importlib.metadata import EntryPoint

__all__ = ["entry_points", "refresh"]

_PREFIX = "tamarco."


def entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The installed entry points of ``group`` (a ``tamarco.*`` group), in discovery order."""
    if not group.startswith(_PREFIX):
        raise ValueError(f"not a Tamarco entry-point group: {group!r}")
    return _by_group().get(group, ())


def refresh() -> None:
    """Forget what was read: the next lookup reads the installed distributions again."""
    _by_group.cache_clear()


@functools.cache
def _by_group() -> dict[str, tuple[EntryPoint, ...]]:
    every = importlib.metadata.entry_points()  # every distribution's entry points, read once
    return {group: tuple(every.select(group=group)) for group in every.groups if group.startswith(_PREFIX)}

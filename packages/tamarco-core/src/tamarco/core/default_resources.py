"""Resources every Microservice gets without declaring them (entry-point group
``tamarco.default_resources``).

A plugin declares ``name = "module:factory"``; the factory is called with no arguments. A
class attribute of the same name on the service replaces the default; ``None`` removes it.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "tamarco.default_resources"

logger = logging.getLogger("tamarco.default_resources")


def default_resource_factories() -> dict[str, Any]:
    """``{name: entry point}`` of every installed default resource, sorted by name."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return dict(sorted(found.items()))


def build_default_resources(skip: set[str], factories: dict[str, Any] | None = None) -> dict[str, Any]:
    """Instantiate the default resources whose names are not in ``skip``.

    ``factories``: what :func:`default_resource_factories` returned, when the caller has it
    already (scanning the installed distributions' entry points takes a few ms).
    """
    resources: dict[str, Any] = {}
    if factories is None:
        factories = default_resource_factories()
    for name, entry_point in factories.items():
        if name in skip:
            continue
        factory = entry_point.load()
        resources[name] = factory()
    return resources

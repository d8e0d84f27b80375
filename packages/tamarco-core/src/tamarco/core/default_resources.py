"""The resources of a service: those it declares, and those every Microservice gets without
declaring them (entry-point group ``tamarco.default_resources``).

A plugin declares ``name = "module:factory"``; the factory is called with no arguments. A
class attribute of the same name on the service replaces the default; ``None`` removes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from tamarco.core.entry_points import entry_points
from tamarco.core.errors import MicroserviceDefinitionError
from tamarco.resources.bases import BaseResource, InputBase

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


def collect_resources(service: object, with_defaults: bool) -> dict[str, BaseResource]:
    """The resources of ``service``: its class attributes that are resources, and the defaults.

    A class attribute that is not a resource (``None``) removes a resource of the same name
    declared by a base class, or the default of that name. Each default resource instantiated
    is also set as an attribute of ``service``.
    """
    cls = type(service)
    declared: dict[str, BaseResource] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, BaseResource):
                declared[attr] = value
            elif attr in declared:
                declared.pop(attr)  # replaced by a non-resource (None removes it)
    if with_defaults:
        factories = default_resource_factories()
        skip = {name for name in factories if hasattr(cls, name)}
        for name, resource in build_default_resources(skip, factories).items():
            if not isinstance(resource, BaseResource):
                raise MicroserviceDefinitionError(
                    f"default resource {name!r} is a {type(resource).__name__}, not a BaseResource"
                )
            setattr(service, name, resource)
            declared[name] = resource
    return declared


def bind_input_handlers(service: object) -> None:
    """Bind each input declared as a decorator on a method of ``service`` to that bound method."""
    for klass in type(service).__mro__:
        for attr, value in vars(klass).items():
            input_ = getattr(value, "_tamarco_input", None)
            if isinstance(input_, InputBase):
                input_.bind_handler(getattr(service, attr))


def resources_loggers(resources: Iterable[BaseResource]) -> list[str]:
    """The names of the loggers the resources log to, theirs and the libraries' they route."""
    names: list[str] = []
    for resource in resources:
        names.extend(resource.loggers_names)
        names.extend(resource.library_loggers)
    return names


def library_levels(resources: Iterable[BaseResource], service_loggers: Iterable[str]) -> dict[str, int]:
    """The lowest level of the third-party loggers the resources route (unless the service
    names one in ``extra_loggers_names``, ``service_loggers``: then the profile's level)."""
    levels: dict[str, int] = {}
    own = set(service_loggers)
    for resource in resources:
        for name, level in resource.library_loggers.items():
            if name not in own:
                levels[name] = max(level, levels.get(name, logging.NOTSET))
    return levels

"""Start order of resources from their ``depends_on`` declarations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tamarco.core.errors import MicroserviceDefinitionError, ResourceDependencyCycle, UnknownResourceDependency


def resource_dependencies(resources: Mapping[str, object]) -> dict[str, list[str]]:
    """``{name: names it depends on}`` from each resource's ``depends_on``.

    An entry is a resource name, or a contract (a class or a runtime-checkable Protocol such as
    :class:`tamarco.core.report_server.ReportServer`): every other resource of the service that
    is an instance of it. A contract no resource satisfies adds nothing (not an error: the
    resource decides what it does without one); an unknown name is, in :func:`start_order`.
    """
    dependencies: dict[str, list[str]] = {}
    for name, resource in resources.items():
        needs: list[str] = []
        for entry in getattr(resource, "depends_on", ()):
            if isinstance(entry, str):
                found = [entry]
            elif isinstance(entry, type):
                found = [other for other, it in resources.items() if other != name and isinstance(it, entry)]
            else:
                raise MicroserviceDefinitionError(
                    f"resource {name!r}: depends_on entries are resource names or contracts (classes), got {entry!r}"
                )
            needs.extend(needed for needed in found if needed not in needs)
        dependencies[name] = needs
    return dependencies


def start_order(dependencies: Mapping[str, Sequence[str]]) -> list[str]:
    """Names in an order where every resource comes after what it depends on.

    Ties keep the declaration order of ``dependencies``. Raises
    :class:`UnknownResourceDependency` or :class:`ResourceDependencyCycle`.
    """
    for name, needs in dependencies.items():
        for needed in needs:
            if needed not in dependencies:
                raise UnknownResourceDependency(name, needed, list(dependencies))
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ResourceDependencyCycle([*path[path.index(name) :], name])
        state[name] = 1
        path.append(name)
        for needed in dependencies[name]:
            visit(needed)
        path.pop()
        state[name] = 2
        order.append(name)

    for name in dependencies:
        visit(name)
    return order

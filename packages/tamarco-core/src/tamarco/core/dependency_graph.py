"""Start order of resources from their ``depends_on`` declarations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tamarco.core.errors import ResourceDependencyCycle, UnknownResourceDependency


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

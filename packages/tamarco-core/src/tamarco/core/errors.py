"""Exceptions of the microservice lifecycle. Each names the service or resources involved."""

from __future__ import annotations

from collections.abc import Sequence


class MicroserviceError(Exception):
    """Base class of lifecycle errors."""


class MicroserviceDefinitionError(MicroserviceError, TypeError):
    """The Microservice subclass is declared wrongly (no ``name``, a bad resource...)."""


class ResourceDependencyError(MicroserviceError):
    """The ``depends_on`` declarations cannot be satisfied."""


class UnknownResourceDependency(ResourceDependencyError):
    """A resource depends on a resource the service does not have."""

    def __init__(self, resource: str, missing: str, available: Sequence[str]) -> None:
        super().__init__(
            f"resource {resource!r} depends on {missing!r}, which is not a resource of this "
            f"service (resources: {', '.join(sorted(available)) or 'none'})"
        )
        self.resource = resource
        self.missing = missing


class ResourceDependencyCycle(ResourceDependencyError):
    """The resources depend on each other in a cycle."""

    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__(f"resource dependency cycle: {' -> '.join(cycle)}")
        self.cycle = list(cycle)


class ResourceStartError(MicroserviceError):
    """A resource failed in one of its start stages."""

    def __init__(self, resource: str, stage: str, error: BaseException) -> None:
        super().__init__(f"resource {resource!r} failed in {stage}: {type(error).__name__}: {error}")
        self.resource = resource
        self.stage = stage
        self.error = error

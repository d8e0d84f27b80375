"""Exceptions of the microservice lifecycle. Each names the service or resources involved."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence


class MicroserviceError(Exception):
    """Base class of lifecycle errors."""


class ExpectedStartFailure(Exception):
    """A start failure the operator fixes (a port in use, a bad setting): its message names the
    key and says what to do. The service logs it as one line; the traceback goes to DEBUG."""


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


class InvalidSettingError(MicroserviceError, ExpectedStartFailure, ValueError):
    """A setting the core reads holds a value it cannot use; the message names the key.

    Raised while the service starts (before any resource starts), never at first use.
    """

    def __init__(self, key: str, expected: str, value: object) -> None:
        super().__init__(f"setting {key} must be {expected}, got {value!r}")
        self.key = key
        self.value = value


class ResourceStartError(MicroserviceError):
    """A resource failed in one of its start stages."""

    def __init__(
        self, resource: str, stage: str, error: BaseException, redact: Callable[[str], str] | None = None
    ) -> None:
        reason = f"{type(error).__name__}: {error}"
        super().__init__(f"resource {resource!r} failed in {stage}: {redact(reason) if redact else reason}")
        self.resource = resource
        self.stage = stage
        self.error = error


class ResourceSettingsError(ResourceStartError, ExpectedStartFailure):
    """The settings of one or more resources are wrong: found by their ``check_settings`` before
    any resource started, so nothing connected. The message names every resource and full key;
    ``errors`` maps each resource's name to its error (``resource``/``error``: the first one)."""

    def __init__(self, errors: Mapping[str, BaseException], redact: Callable[[str], str] | None = None) -> None:
        resource, error = next(iter(errors.items()))
        super().__init__(resource, "settings check", error, redact)
        self.errors = dict(errors)
        if len(errors) > 1:
            each = "; ".join(
                f"resource {name!r}: {type(failure).__name__}: {failure}" for name, failure in errors.items()
            )
            text = f"wrong settings in {len(errors)} resources ({', '.join(map(repr, errors))}): {each}"
            self.args = (redact(text) if redact else text,)


class UnknownResourceError(MicroserviceError, LookupError):
    """A resource name that is not a resource of the service (e.g. in ``restart_resource``)."""

    def __init__(self, resource: str, available: Sequence[str]) -> None:
        super().__init__(
            f"{resource!r} is not a resource of this service (resources: {', '.join(sorted(available)) or 'none'})"
        )
        self.resource = resource


class ResourceRestartError(MicroserviceError):
    """``restart_resource`` failed: names the resource restarted, the one that failed and its stage."""

    def __init__(
        self,
        restarted: str,
        resource: str,
        stage: str | None,
        error: BaseException | str,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        reason = redact(reason) if redact else reason
        where = f"resource {resource!r} failed in {stage}" if stage else f"resource {resource!r} failed"
        super().__init__(f"restart of resource {restarted!r}: {where}: {reason}")
        self.restarted = restarted
        self.resource = resource
        self.stage = stage
        self.error = error


class RestartCancelledError(ResourceRestartError):
    """``restart_resource`` did not run, or was interrupted, because the service is stopping."""

    def __init__(self, restarted: str, stage: str | None, state: str) -> None:
        MicroserviceError.__init__(
            self,
            f"restart of resource {restarted!r} cancelled{f' during {stage}' if stage else ''}: the service is {state}",
        )
        self.restarted = restarted
        self.resource = restarted
        self.stage = stage
        self.error = f"the service is {state}"

"""The settings of the status resource (``system.resources.status``), read and checked once.

Every invalid value, and every unknown key (a typo such as ``restart_policy.max_atempts``),
raises :class:`StatusSettingsError` naming the full key, so a bad setting stops the service at
startup instead of silently doing nothing. The checks are the core's
:class:`~tamarco.core.settings.reader.SettingsReader`. A restart policy naming a
resource the service does not have is not an error but a warning (:attr:`StatusConfig.warnings`):
policies shared by every service in etcd (``system.resources.status``) name resources that only
some services have. ``critical_resources`` naming an unknown resource is still an error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tamarco.core.settings.reader import SettingsReader
from tamarco.resources.basic.status._errors import StatusSettingsError, UnknownPolicyResource

__all__ = [
    "ALL",
    "READINESS_CONDITIONS",
    "Backoff",
    "HealthConfig",
    "RestartPolicyConfig",
    "StatusConfig",
    "load_status_config",
]

#: The value that selects every resource in a list-of-resources setting.
ALL = "all"
#: HTTP codes ``/status`` may answer while resources are still starting (setting
#: ``http_code_while_starting``): 102 is the 0.1 rule, the others are final responses.
ALLOWED_STARTING_CODES = (102, 200, 202, 503)
#: What ``health.not_ready_when`` may list: conditions that make ``/health/ready`` answer 503
#: (besides a critical resource not STARTED and the service not running, always).
READINESS_CONDITIONS = ("task_failed", "resource_failed", "settings_degraded", "handler_stuck")
DEFAULT_NOT_READY_WHEN = frozenset({"task_failed"})
#: The keys of each section of the settings (``None``: the top); ``host``, ``port`` and
#: ``debug`` are the 0.1 keys the resource warns about (the report server serves the endpoints).
_KNOWN_KEYS: dict[str | None, tuple[str, ...]] = {
    None: (
        "restart_policy",
        "critical_resources",
        "http_code_while_starting",
        "status_timeout_seconds",
        "health",
        "host",
        "port",
        "debug",
    ),
    "restart_policy": ("resources", "max_attempts", "backoff", "attempt_timeout_seconds", "reset_after_seconds"),
    "restart_policy.resources": ("restart_microservice_on_failure", "restart_resource_on_failure"),
    "restart_policy.backoff": ("initial_seconds", "multiplier", "max_seconds"),
    "health": ("loop_lag_threshold_seconds", "loop_lag_interval_seconds", "loop_lag_window_seconds", "not_ready_when"),
}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between restart attempts of one resource."""

    initial_seconds: float = 1.0
    multiplier: float = 2.0
    max_seconds: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        return float(min(self.max_seconds, self.initial_seconds * self.multiplier ** max(0, attempt - 1)))


@dataclass(frozen=True)
class RestartPolicyConfig:
    """``restart_policy``: which resources restart the service, which restart in place."""

    restart_microservice_on_failure: frozenset[str] = frozenset()
    restart_resource_on_failure: frozenset[str] = frozenset()
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    attempt_timeout_seconds: float = 30.0
    reset_after_seconds: float = 60.0


@dataclass(frozen=True)
class HealthConfig:
    """``health``: how ``/health/live`` measures the event loop, and what else makes the
    service not ready (``not_ready_when``, among :data:`READINESS_CONDITIONS`)."""

    loop_lag_threshold_seconds: float = 1.0
    loop_lag_interval_seconds: float = 0.25
    loop_lag_window_seconds: float = 10.0
    not_ready_when: frozenset[str] = DEFAULT_NOT_READY_WHEN


@dataclass(frozen=True)
class StatusConfig:
    restart_policy: RestartPolicyConfig = field(default_factory=RestartPolicyConfig)
    critical_resources: frozenset[str] = frozenset()
    http_code_while_starting: int = 102
    status_timeout_seconds: float = 2.0
    health: HealthConfig = field(default_factory=HealthConfig)
    #: What the status resource logs as warnings (restart policies naming unknown resources).
    warnings: tuple[str, ...] = ()


class _Reader(SettingsReader):
    """The core's reader over the status subtree, plus lists of resource names."""

    def __init__(self, tree: Any, prefix: str) -> None:
        self.tree = tree if isinstance(tree, Mapping) else {}
        super().__init__(self.raw, lambda path: f"{prefix}.{path}", error=StatusSettingsError)
        self.warnings: list[str] = []

    def raw(self, path: str, default: Any) -> Any:
        node: Any = self.tree
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return default if node is None else node

    def check_sections(self) -> None:
        """Refuse the keys no one reads, in every section, naming each full key (recorded in
        :attr:`problems`, raised with the other wrong settings)."""
        for section, known in _KNOWN_KEYS.items():
            with self.each():
                self.check_known(section, self.tree if section is None else self.mapping(section), known)

    def names(
        self,
        path: str,
        default: Any,
        *,
        resources: Collection[str],
        service: str | None,
        everything: Collection[str],
        forbidden: Collection[str] = (),
        unknown_is_warning: bool = False,
    ) -> frozenset[str]:
        """A list of resource names, or ``"all"`` / ``["all"]`` for ``everything``.

        A name the service lacks raises :class:`UnknownPolicyResource`, or with
        ``unknown_is_warning`` is left out and recorded in :attr:`warnings`.
        """
        value = self.raw(path, default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            self.fail(path, f"must be a list of resource names or {ALL!r}, got {value!r}")
        if ALL in value:
            return frozenset(everything)
        known = []
        for name in value:
            if name not in resources:
                unknown = UnknownPolicyResource(self.key(path), name, service, resources)
                if not unknown_is_warning:
                    raise unknown
                self.warnings.append(f"{unknown}: ignored by this service")
                continue
            if name in forbidden:
                self.fail(path, f"lists the status resource itself ({name!r} cannot be listed here)")
            known.append(name)
        return frozenset(known)


def _conditions(reader: _Reader, path: str) -> frozenset[str]:
    value = reader.raw(path, sorted(DEFAULT_NOT_READY_WHEN))
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, (list, tuple))
        or not all(isinstance(v, str) for v in value)
        or not set(value) <= set(READINESS_CONDITIONS)
    ):
        reader.fail(
            path, f"must be a list of conditions among {', '.join(READINESS_CONDITIONS)} (or []), got {value!r}"
        )
    return frozenset(value)


def load_status_config(
    tree: Any,
    *,
    prefix: str,
    resources: Collection[str],
    service: str | None,
    own_name: str,
    non_critical_by_default: Collection[str],
) -> StatusConfig:
    """Read and check the status settings subtree ``tree`` (found at ``prefix``); every wrong
    key is reported at once (one :class:`StatusSettingsError` naming each)."""
    reader = _Reader(tree, prefix)
    reader.check_sections()
    others = [r for r in resources if r != own_name]
    policy_key = "restart_policy.resources"
    defaults = StatusConfig()
    policy, health = defaults.restart_policy, defaults.health
    values: dict[str, Any] = {}

    def restart_names(key: str) -> frozenset[str]:
        """A restart list of resource names: the other resources only, an unknown name warns."""
        return reader.names(
            f"{policy_key}.{key}",
            [],
            resources=resources,
            service=service,
            everything=others,
            forbidden=(own_name,),
            unknown_is_warning=True,
        )

    readers: dict[str, Callable[[], Any]] = {
        "restart_microservice_on_failure": lambda: restart_names("restart_microservice_on_failure"),
        "restart_resource_on_failure": lambda: restart_names("restart_resource_on_failure"),
        "max_attempts": lambda: reader.whole("restart_policy.max_attempts", 5, minimum=1),
        "initial_seconds": lambda: reader.number("restart_policy.backoff.initial_seconds", 1.0),
        "multiplier": lambda: reader.number("restart_policy.backoff.multiplier", 2.0, minimum=1.0),
        "max_seconds": lambda: reader.number("restart_policy.backoff.max_seconds", 30.0),
        "attempt_timeout_seconds": lambda: reader.seconds("restart_policy.attempt_timeout_seconds", 30.0),
        "reset_after_seconds": lambda: reader.number("restart_policy.reset_after_seconds", 60.0),
        "critical_resources": lambda: reader.names(
            "critical_resources",
            [r for r in resources if r not in non_critical_by_default and r != own_name],
            resources=resources,
            service=service,
            everything=resources,
        ),
        "http_code_while_starting": lambda: _starting_code(reader),
        "loop_lag_threshold_seconds": lambda: reader.seconds("health.loop_lag_threshold_seconds", 1.0),
        "loop_lag_interval_seconds": lambda: reader.seconds("health.loop_lag_interval_seconds", 0.25),
        "loop_lag_window_seconds": lambda: reader.seconds("health.loop_lag_window_seconds", 10.0),
        "not_ready_when": lambda: _conditions(reader, "health.not_ready_when"),
        "status_timeout_seconds": lambda: reader.seconds("status_timeout_seconds", 2.0),
    }
    for name, read in readers.items():
        with reader.each():
            values[name] = read()
    reader.raise_problems()
    backoff = Backoff(**{key: values[key] for key in ("initial_seconds", "multiplier", "max_seconds")})
    policy = RestartPolicyConfig(
        backoff=backoff, **{f.name: values[f.name] for f in fields(policy) if f.name in values}
    )
    health = HealthConfig(**{f.name: values[f.name] for f in fields(health) if f.name in values})
    return StatusConfig(
        restart_policy=policy,
        critical_resources=values["critical_resources"],
        http_code_while_starting=int(values["http_code_while_starting"]),
        status_timeout_seconds=values["status_timeout_seconds"],
        health=health,
        warnings=tuple(reader.warnings),
    )


def _starting_code(reader: _Reader) -> int:
    starting_code = reader.raw("http_code_while_starting", 102)
    if starting_code not in ALLOWED_STARTING_CODES or isinstance(starting_code, bool):
        reader.fail(
            "http_code_while_starting",
            f"must be one of {', '.join(map(str, ALLOWED_STARTING_CODES))}, got {starting_code!r}",
        )
    return int(starting_code)

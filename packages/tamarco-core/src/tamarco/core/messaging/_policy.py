"""Delivery policies: concurrency, retries and dead-lettering of one input, and where they come from.

Precedence, lowest first: the built-in defaults; the resource's ``delivery`` settings
(``system.resources.<resource>.delivery``); what the code passes to the input
(``AMQPPullInput(..., max_concurrency=4)``); the input's own settings
(``system.resources.<resource>.inputs.<input>``). The developer's explicit argument beats a blanket
resource default, and an operator can still tune one input. Every value is checked when the
resource starts; a wrong one is a :class:`MessagingSettingsError` naming the full key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tamarco.core.messaging.errors import MessagingSettingsError
from tamarco.core.settings.reader import SettingsReader, settings_error

if TYPE_CHECKING:
    from tamarco.core.settings.settings import SettingsView

__all__ = ["DEFAULT_MAX_CONCURRENCY", "AckMode", "DeliveryPolicy", "RetryPolicy", "resolve_policy"]

DEFAULT_MAX_CONCURRENCY = 10
AckMode = Literal["auto", "manual"]


@dataclass(frozen=True)
class RetryPolicy:
    """A failing handler is called again up to ``attempts`` times in all (1: no retry), waiting
    ``delay_seconds * backoff ** (n - 1)`` (at most ``max_delay_seconds``) after the n-th failure.
    The message stays unsettled meanwhile: if the process dies, the broker delivers it again."""

    attempts: int = 3
    delay_seconds: float = 0.5
    backoff: float = 2.0
    max_delay_seconds: float = 30.0

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt ``failed_attempt`` (1-based) failed."""
        return float(min(self.max_delay_seconds, self.delay_seconds * self.backoff ** (failed_attempt - 1)))


@dataclass(frozen=True)
class DeliveryPolicy:
    """How one input consumes: at most ``max_concurrency`` handlers run at once (more messages
    wait, unacknowledged: backpressure to the broker); failures are retried per ``retry`` and then
    dead-lettered (``dead_letter``; false: rejected, the broker drops them or applies its own
    dead-letter rules); ``ack="manual"`` leaves settling to the handler; a handler running longer
    than ``handler_timeout_seconds`` (None: no limit) is cancelled, and that is a failure."""

    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter: bool = True
    ack: AckMode = "auto"
    handler_timeout_seconds: float | None = None

    @property
    def prefetch(self) -> int:
        """How many messages a transport takes from the broker before they are settled: the
        handlers' plus as many waiting for a slot (the AMQP ``basic.qos`` default)."""
        return 2 * self.max_concurrency


_FIELDS = ("max_concurrency", "retry", "dead_letter", "ack", "handler_timeout_seconds")
_RETRY_FIELDS = ("attempts", "delay_seconds", "backoff", "max_delay_seconds")


def resolve_policy(
    overrides: Mapping[str, Any],
    resource_settings: SettingsView | None,
    input_name: str,
) -> DeliveryPolicy:
    """The policy of input ``input_name``: defaults < ``delivery`` settings < ``overrides``
    (the input's constructor arguments) < ``inputs.<input_name>`` settings. Every wrong value
    is reported (one :class:`MessagingSettingsError`, each naming its full key)."""
    policy, problems = policy_problems(overrides, resource_settings, input_name)
    if problems:
        raise settings_error(MessagingSettingsError, problems)
    return policy


def policy_problems(
    overrides: Mapping[str, Any],
    resource_settings: SettingsView | None,
    input_name: str,
) -> tuple[DeliveryPolicy, list[str]]:
    """:func:`resolve_policy`'s policy and every wrong setting found on the way (each layer is
    checked even when an earlier one is wrong), for a resource to report them all at once."""
    problems: list[str] = []
    layers: list[tuple[str, Callable[[], Mapping[str, Any]]]] = []
    if resource_settings is not None:
        view = resource_settings

        def delivery() -> Mapping[str, Any]:
            values = _mapping(view, "delivery")
            # ``delivery`` holds the policy only (an input's settings may hold its transport's keys too).
            SettingsReader.of(view, error=MessagingSettingsError).check_known("delivery", values, _FIELDS)
            return values

        layers.append((view.full_key("delivery"), delivery))
    layers.append((f"input {input_name!r} argument", lambda: overrides))
    if resource_settings is not None:
        key = f"inputs.{input_name}"
        layers.append((resource_settings.full_key(key), lambda: _mapping(view, key)))
    policy = DeliveryPolicy()
    for where, layer in layers:
        try:
            policy = _apply(policy, layer(), where)
        except MessagingSettingsError as error:
            problems.append(str(error))
    return policy, problems


def _mapping(view: SettingsView, key: str) -> Mapping[str, Any]:
    return SettingsReader.of(view, error=MessagingSettingsError).mapping(key)


def _reader(values: Mapping[str, Any], where: str) -> SettingsReader:
    separator = " " if where.startswith("input ") else "."
    return SettingsReader(values.get, lambda name: f"{where}{separator}{name}", error=MessagingSettingsError)


def _apply(policy: DeliveryPolicy, layer: Mapping[str, Any], where: str) -> DeliveryPolicy:
    read = _reader(layer, where)
    changes: dict[str, Any] = {}
    for name, value in layer.items():
        if value is None:
            continue
        if name == "max_concurrency":
            changes[name] = read.whole(name, 1, minimum=1)
        elif name == "dead_letter":
            changes[name] = read.boolean(name, True)
        elif name == "ack":
            if value not in ("auto", "manual"):
                read.fail(name, f"must be 'auto' or 'manual', got {value!r}")
            changes[name] = value
        elif name == "retry":
            changes[name] = _retry(policy.retry, value, read.key(name))
        elif name == "handler_timeout_seconds":
            # 0 turns a timeout set in a lower layer off.
            changes[name] = read.number(name, 0.0) or None
        # Other keys are the transport's (an input's settings may hold more than its policy).
    return dataclasses.replace(policy, **changes) if changes else policy


def _retry(current: RetryPolicy, value: Any, key: str) -> RetryPolicy:
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, bool) or not isinstance(value, Mapping):
        raise MessagingSettingsError(f"setting {key} must be a mapping with {', '.join(_RETRY_FIELDS)}, got {value!r}")
    read = SettingsReader.of_mapping(value, key, error=MessagingSettingsError)
    read.check_known(None, value, _RETRY_FIELDS)
    changes: dict[str, Any] = {}
    for name in value:
        if name == "attempts":
            changes[name] = read.whole(name, 1, minimum=1)
        elif name == "backoff":
            changes[name] = read.number(name, 1.0, minimum=1.0)
        else:  # delay_seconds, max_delay_seconds
            changes[name] = read.number(name, 0.0)
    return dataclasses.replace(current, **changes)

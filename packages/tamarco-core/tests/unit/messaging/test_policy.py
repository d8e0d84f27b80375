"""Delivery policy resolution: defaults, layers, and errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from tamarco.core.messaging import DeliveryPolicy, MessagingSettingsError, RetryPolicy, resolve_policy
from tamarco.core.settings.settings import Settings, SettingsView


def _view(resource: dict[str, Any]) -> SettingsView:
    settings = Settings(microservice_name="svc", environ={})
    settings.update_internal({"system": {"resources": {"bus": resource}}})
    return SettingsView(settings, "system.resources.bus")


def test_defaults() -> None:
    policy = resolve_policy({}, None, "jobs")
    assert policy == DeliveryPolicy()
    assert policy.retry.attempts == 3 and policy.ack == "auto" and policy.dead_letter


def test_layers_resource_then_code_then_input_settings() -> None:
    view = _view(
        {
            "delivery": {"max_concurrency": 4, "retry": {"attempts": 5, "delay_seconds": 2}},
            "inputs": {"jobs": {"retry": {"attempts": 7}}},
        }
    )
    policy = resolve_policy({"max_concurrency": 2, "retry": {"backoff": 3}}, view, "jobs")
    assert policy.max_concurrency == 2  # the code's argument beats the resource default
    assert policy.retry == RetryPolicy(attempts=7, delay_seconds=2.0, backoff=3.0)  # the input's setting wins
    other = resolve_policy({}, view, "other")
    assert other.max_concurrency == 4 and other.retry.attempts == 5


def test_retry_delays_grow_and_are_capped() -> None:
    retry = RetryPolicy(attempts=5, delay_seconds=1, backoff=2, max_delay_seconds=3)
    assert [retry.delay(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]


@pytest.mark.parametrize(
    ("resource", "key"),
    [
        ({"delivery": {"max_concurrency": 0}}, "system.resources.bus.delivery.max_concurrency"),
        ({"delivery": {"max_concurrency": "ten"}}, "system.resources.bus.delivery.max_concurrency"),
        ({"delivery": {"max_concurency": 4}}, "system.resources.bus.delivery.max_concurency is unknown"),
        (
            {"inputs": {"jobs": {"retry": {"delay_seconds": -1}}}},
            "system.resources.bus.inputs.jobs.retry.delay_seconds",
        ),
        ({"inputs": {"jobs": {"retry": {"backoff": 0.5}}}}, "system.resources.bus.inputs.jobs.retry.backoff"),
        ({"inputs": {"jobs": {"retry": {"atempts": 2}}}}, "system.resources.bus.inputs.jobs.retry.atempts"),
        ({"inputs": {"jobs": {"retry": 3}}}, "system.resources.bus.inputs.jobs.retry"),
        ({"inputs": {"jobs": {"ack": "sometimes"}}}, "system.resources.bus.inputs.jobs.ack"),
        ({"inputs": {"jobs": {"dead_letter": "yes"}}}, "system.resources.bus.inputs.jobs.dead_letter"),
        ({"inputs": {"jobs": 5}}, "system.resources.bus.inputs.jobs"),
    ],
)
def test_bad_values_name_the_full_key(resource: dict[str, Any], key: str) -> None:
    with pytest.raises(MessagingSettingsError) as error:
        resolve_policy({}, _view(resource), "jobs")
    assert key in str(error.value)


def test_bad_code_argument_names_the_input() -> None:
    with pytest.raises(MessagingSettingsError, match="input 'jobs' argument max_concurrency"):
        resolve_policy({"max_concurrency": -1}, None, "jobs")

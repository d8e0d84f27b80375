"""The pieces of the status resource: HTTP code rule, status collection, settings, redaction,
loop lag."""

import asyncio
import time

import pytest
from tamarco.core.redaction import MASK
from tamarco.resources.bases import BaseResource, StatusCodes
from tamarco.resources.basic import status as status_package
from tamarco.resources.basic.status import (
    Backoff,
    LoopLagMonitor,
    Redactor,
    StatusSettingsError,
    UnknownPolicyResource,
    load_status_config,
    overall_http_code,
    resource_status,
)

S = StatusCodes


def test_exports_are_importable():
    for name in status_package.__all__:
        assert getattr(status_package, name) is not None


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([S.STARTED, S.STARTED], 200),
        ([], 200),
        ([S.STARTED, S.FAILED], 500),
        ([S.STARTED, S.STOPPED, S.CONNECTING], 500),
        ([S.STARTED, S.CONNECTING], 102),
        ([S.NOT_STARTED], 102),
        ([S.STOPPING, S.STARTED], 102),
    ],
)
def test_overall_http_code_is_the_01_rule(codes, expected):
    assert overall_http_code(codes) == expected


def test_overall_http_code_while_starting_is_configurable():
    assert overall_http_code([S.CONNECTING], while_starting=503) == 503
    assert overall_http_code([S.FAILED, S.CONNECTING], while_starting=503) == 500


class Raising(BaseResource):
    async def status(self):
        raise RuntimeError("broken status")


class Hanging(BaseResource):
    async def status(self):
        await asyncio.sleep(30)


class NotADict(BaseResource):
    async def status(self):
        return ["STARTED"]


class Extra(BaseResource):
    async def status(self):
        return {"status": S.STARTED, "target": "127.0.0.1:5672"}


class BadCode(BaseResource):
    async def status(self):
        return {"status": 42}


async def test_resource_status_reports_what_the_resource_adds():
    info = await resource_status(Extra(), 1)
    assert info == {"status": 2, "status_name": "STARTED", "target": "127.0.0.1:5672"}


async def test_resource_status_fills_the_name_from_the_code():
    resource = BaseResource()
    resource.set_status(S.CONNECTING)
    assert await resource_status(resource, 1) == {"status": 1, "status_name": "CONNECTING"}


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (Raising(), "status() raised RuntimeError: broken status"),
        (Hanging(), "status() did not answer within 0.05 s"),
        (NotADict(), "status() returned a list, not a dict"),
        (BadCode(), "status() reported an unknown status code 42"),
    ],
)
async def test_a_broken_status_is_reported_failed_with_the_reason(resource, reason):
    info = await resource_status(resource, 0.05)
    assert info["status"] == 5
    assert info["status_name"] == "FAILED"
    assert info["error"] == reason


RESOURCES = ["tamarco_http_report_server", "status", "metrics", "redis", "kafka"]


def config(tree, **kwargs):
    options = {
        "prefix": "system.resources.status",
        "resources": RESOURCES,
        "service": "dog",
        "own_name": "status",
        "non_critical_by_default": {"tamarco_http_report_server", "status", "metrics"},
    }
    options.update(kwargs)
    return load_status_config(tree, **options)


def test_defaults():
    loaded = config({})
    assert loaded.restart_policy.restart_microservice_on_failure == frozenset()
    assert loaded.restart_policy.restart_resource_on_failure == frozenset()
    assert loaded.restart_policy.max_attempts == 5
    assert loaded.critical_resources == {"redis", "kafka"}
    assert loaded.http_code_while_starting == 102


def test_reference_example_policies():
    loaded = config(
        {
            "restart_policy": {
                "resources": {"restart_microservice_on_failure": ["redis"], "restart_resource_on_failure": ["kafka"]}
            }
        }
    )
    assert loaded.restart_policy.restart_microservice_on_failure == {"redis"}
    assert loaded.restart_policy.restart_resource_on_failure == {"kafka"}


@pytest.mark.parametrize("value", ["all", ["all"]])
def test_all_means_every_other_resource(value):
    loaded = config({"restart_policy": {"resources": {"restart_microservice_on_failure": value}}})
    assert loaded.restart_policy.restart_microservice_on_failure == set(RESOURCES) - {"status"}


@pytest.mark.parametrize("policy", ["restart_resource_on_failure", "restart_microservice_on_failure"])
def test_a_policy_naming_an_unknown_resource_is_a_warning_naming_the_key_and_the_resource(policy):
    loaded = config({"restart_policy": {"resources": {policy: ["kafka", "postgres"]}}})
    assert getattr(loaded.restart_policy, policy) == {"kafka"}
    (message,) = loaded.warnings
    assert f"system.resources.status.restart_policy.resources.{policy}" in message
    assert "'postgres'" in message and "service 'dog'" in message and "ignored" in message
    assert config({}).warnings == ()


def test_unknown_critical_resource():
    with pytest.raises(UnknownPolicyResource, match="critical_resources names 'nope'"):
        config({"critical_resources": ["nope"]})


def test_every_wrong_key_is_reported_at_once():
    tree = {
        "restart_policy": {"max_atempts": 3, "backoff": {"multiplier": 0.5}},
        "health": {"loop_lag_threshold_seconds": 0},
        "critical_resources": ["nope"],
        "http_code_while_starting": 418,
        "status_timout_seconds": 1,
    }
    with pytest.raises(StatusSettingsError, match=r"^6 wrong settings: ") as raised:
        config(tree)
    text = str(raised.value)
    for part in (
        "system.resources.status.status_timout_seconds is unknown",
        "system.resources.status.restart_policy.max_atempts is unknown",
        "system.resources.status.restart_policy.backoff.multiplier must be a number >= 1",
        "system.resources.status.health.loop_lag_threshold_seconds must be a number of seconds > 0",
        "critical_resources names 'nope'",
        "system.resources.status.http_code_while_starting must be one of 102, 200, 202, 503, got 418",
    ):
        assert part in text


def test_status_cannot_restart_itself():
    with pytest.raises(StatusSettingsError, match="'status' cannot be listed"):
        config({"restart_policy": {"resources": {"restart_resource_on_failure": ["status"]}}})


@pytest.mark.parametrize(
    ("tree", "key"),
    [
        (
            {"restart_policy": {"resources": {"restart_resource_on_failure": 3}}},
            "restart_policy.resources.restart_resource_on_failure",
        ),
        ({"restart_policy": {"max_attempts": 0}}, "restart_policy.max_attempts"),
        ({"restart_policy": {"max_attempts": "5"}}, "restart_policy.max_attempts"),
        ({"restart_policy": {"backoff": {"multiplier": 0.5}}}, "restart_policy.backoff.multiplier"),
        ({"restart_policy": {"backoff": {"initial_seconds": -1}}}, "restart_policy.backoff.initial_seconds"),
        ({"http_code_while_starting": 201}, "http_code_while_starting"),
        ({"health": {"loop_lag_threshold_seconds": 0}}, "health.loop_lag_threshold_seconds"),
        ({"health": {"loop_lag_interval_seconds": True}}, "health.loop_lag_interval_seconds"),
    ],
)
def test_bad_settings_name_the_key(tree, key):
    with pytest.raises(StatusSettingsError, match=f"system.resources.status.{key}"):
        config(tree)


@pytest.mark.parametrize(
    ("tree", "key"),
    [
        ({"critical_resource": ["redis"]}, "critical_resource"),
        ({"restart_policy": {"max_atempts": 3}}, "restart_policy.max_atempts"),
        (
            {"restart_policy": {"resources": {"restart_on_failure": ["redis"]}}},
            "restart_policy.resources.restart_on_failure",
        ),
        ({"restart_policy": {"backoff": {"initial": 1}}}, "restart_policy.backoff.initial"),
        ({"health": {"not_ready_if": []}}, "health.not_ready_if"),
    ],
)
def test_an_unknown_key_is_refused_naming_its_full_key(tree, key):
    with pytest.raises(StatusSettingsError, match=rf"setting system\.resources\.status\.{key} is unknown \(known: "):
        config(tree)


def test_the_0_1_keys_the_resource_warns_about_are_not_unknown():
    assert config({"host": "0.0.0.0", "port": 8080, "debug": True}).critical_resources


def test_critical_resources_setting():
    assert config({"critical_resources": ["redis"]}).critical_resources == {"redis"}
    assert config({"critical_resources": "all"}).critical_resources == set(RESOURCES)
    assert config({"critical_resources": []}).critical_resources == frozenset()


def test_backoff_is_exponential_and_capped():
    backoff = Backoff(initial_seconds=0.5, multiplier=2, max_seconds=3)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_redactor_masks_secret_keys_url_passwords_and_secret_values():
    redactor = Redactor.from_settings(
        {
            "system": {
                "resources": {"amqp": {"user": "guest", "password": "s3cr3t-pass", "port": 5672}},
                "api_token": "tok-123456",
            }
        }
    )
    data = redactor.data(
        {
            "password": "anything",
            "target": "amqp://guest:s3cr3t-pass@127.0.0.1:5672/",
            "other": "redis://:hunter22@localhost/0",
            "last_error": "login refused for s3cr3t-pass; token tok-123456",
            "nested": [{"client_secret": "x"}, "plain"],
            "port": 5672,
            "empty_password": "",
        }
    )
    assert data["password"] == MASK
    assert data["target"] == f"amqp://guest:{MASK}@127.0.0.1:5672/"
    assert data["other"] == f"redis://:{MASK}@localhost/0"
    assert data["last_error"] == f"login refused for {MASK}; token {MASK}"
    assert data["nested"] == [{"client_secret": MASK}, "plain"]
    assert data["port"] == 5672
    assert data["empty_password"] == ""
    assert "s3cr3t" not in str(data)


def test_redactor_does_not_mask_short_secret_values_inside_text():
    redactor = Redactor.from_settings({"password": "1"})
    assert redactor.text("resource 1 of 10") == "resource 1 of 10"


def test_loop_lag_worst_is_the_window_maximum_as_samples_expire():
    class Clock:
        now = 0.0

        def time(self) -> float:
            return self.now

    clock = Clock()
    monitor = LoopLagMonitor(interval=1.0, window=10.0)
    monitor._loop = clock  # type: ignore[assignment]
    for at, lag in ((0.0, 0.3), (1.0, 0.1), (2.0, 0.2), (3.0, 0.05)):
        monitor._record(at, lag)
    expected = {5.0: 0.3, 10.5: 0.2, 12.5: 0.05, 13.5: 0.0}
    for now, worst in expected.items():
        clock.now = now
        assert monitor.worst_lag() == worst, now


async def test_loop_lag_monitor_sees_a_blocked_loop_then_recovers():
    monitor = LoopLagMonitor(interval=0.02, window=1.0)
    monitor.start()
    try:
        await asyncio.sleep(0.05)
        assert monitor.worst_lag() < 0.2
        time.sleep(0.3)  # noqa: ASYNC251 - block the loop on purpose
        assert monitor.worst_lag() >= 0.25  # the overdue wake-up counts before the monitor runs
        await asyncio.sleep(0.03)
        assert monitor.samples >= 2
        assert monitor.worst_lag() >= 0.25  # still inside the window
        deadline = asyncio.get_running_loop().time() + 3
        while monitor.worst_lag() >= 0.25:
            assert asyncio.get_running_loop().time() < deadline, "lag never left the window"
            await asyncio.sleep(0.02)
    finally:
        await monitor.stop()
    assert not monitor.running

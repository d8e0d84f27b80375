"""A service's logs and lifecycle errors never print the secrets of its settings."""

from __future__ import annotations

import json
import logging

import pytest
from tamarco.core.errors import ResourceStartError
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.redaction import MASK
from tamarco.resources.bases import BaseResource

PASSWORD = "pa/ss-SECRET"


class Broker(BaseResource):
    async def start(self) -> None:
        url = f"amqp://bob:{PASSWORD}@127.0.0.1:1/vhost"
        raise ConnectionError(f"cannot connect to {url} (user bob, {PASSWORD!r} refused)")


class Service(MicroserviceContext):
    name = "redacting"
    amqp = Broker()


@pytest.mark.parametrize("stdout_format", ["human", "json"])
async def test_the_start_failure_traceback_does_not_print_the_password(
    capsys: pytest.CaptureFixture[str], stdout_format: str
) -> None:
    service = Service(environ={})
    service.settings.update_internal(
        {
            "system": {
                "logging": {"stdout_format": stdout_format},
                "resources": {"amqp": {"user": "bob", "pass": PASSWORD}},
            }
        }
    )
    with pytest.raises(ResourceStartError) as raised:
        async with service:
            pass
    output = capsys.readouterr().out
    assert "resource amqp failed in start" in output
    assert "Traceback" in output or "stack_trace" in output
    assert PASSWORD not in output
    assert f"amqp://bob:{MASK}@127.0.0.1:1/vhost" in output
    assert PASSWORD not in str(raised.value)
    assert f"amqp://bob:{MASK}@127.0.0.1:1/vhost" in str(raised.value)
    if stdout_format == "json":
        events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert any("stack_trace" in event for event in events)


async def test_messages_arguments_and_extras_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    class Quiet(MicroserviceContext):
        name = "redacting"
        amqp = BaseResource()

    service = Quiet(environ={})
    service.settings.update_internal({"system": {"resources": {"amqp": {"pass": PASSWORD}}}})
    async with service:
        logger = logging.getLogger("redacting")
        logger.info("connecting with %s", PASSWORD, extra={"target": f"redis://:{PASSWORD}@h/0", "token": "x"})
        logger.info("settings %s", {"password": "other-value", "host": "h"})
    output = capsys.readouterr().out
    assert PASSWORD not in output and "other-value" not in output
    assert f"connecting with {MASK}" in output
    assert f'target="redis://:{MASK}@h/0"' in output and f'token="{MASK}"' in output
    assert f"'password': '{MASK}'" in output


def test_a_setting_type_error_under_a_secret_key_does_not_show_the_value() -> None:
    from tamarco.core.settings.errors import SettingTypeError

    assert str(SettingTypeError("system.resources.amqp.password", str, 123456)) == (
        "setting system.resources.amqp.password must be str, got int"
    )
    assert str(SettingTypeError("system.resources.amqp.port", int, "x")) == (
        "setting system.resources.amqp.port must be int, got str 'x'"
    )

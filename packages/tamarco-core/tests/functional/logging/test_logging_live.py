"""Logging of a running service: the rotating file, live changes through the settings."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.microservice import Microservice, MicroserviceContext

pytestmark = pytest.mark.functional


def check_rotated_files(tmp_path: Path, path: Path) -> None:
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["service.log", "service.log.1", "service.log.2"]  # older ones deleted
    for name in files:
        assert (tmp_path / name).stat().st_size <= 2000
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["message"] == "lifecycle: post_stop"  # written until the service stopped
    assert json.loads((tmp_path / "service.log.1").read_text().splitlines()[0])["secret_key"] == "********"
    everything = "".join((tmp_path / name).read_text() for name in reversed(files))
    assert '"line 199"' in everything and '"line 000"' not in everything  # rotated away


async def test_file_rotates_by_size_and_keeps_backup_count(tmp_path: Path) -> None:
    path = tmp_path / "service.log"
    ctx = MicroserviceContext("logs_file", environ={})
    ctx.settings.update_internal(
        {
            "system": {
                "logging": {
                    "stdout": False,
                    "file_path": str(path),
                    "file_max_bytes": 2000,
                    "file_backup_count": 2,
                    "file_format": "json",
                }
            }
        }
    )
    async with ctx:
        for index in range(200):
            ctx.logger.info("line %03d", index, extra={"secret_key": "s"})
    check_rotated_files(tmp_path, path)


class LiveService(Microservice):
    name = "logs_live"
    use_default_resources: ClassVar[bool] = False

    def __init__(self, udp_port: int) -> None:
        super().__init__(environ={})
        self.settings.update_internal(
            {
                "system": {
                    "deploy_name": "live",
                    "logging": {
                        "profile": "PRODUCTION",
                        "stdout": False,
                        "logstash": {"enabled": False, "port": udp_port},
                    },
                }
            }
        )


async def test_live_profile_override_and_new_output_while_running(logstash_service: Any, unique_name: str) -> None:
    service = LiveService(logstash_service.udp_port)
    debug = logging.getLogger(service.name).debug
    with capture_logs() as logs:
        running = asyncio.create_task(service.run_until_stopped())
        await logs.wait_for(message="lifecycle: running", timeout=10)
        debug("hidden %s", unique_name)
        assert not logs.filter(message=f"hidden {unique_name}")

        await service.settings.set("system.logging.profile", "DEVELOP")
        debug("shown %s", unique_name)
        logs.find(message=f"shown {unique_name}")

        # The per-microservice override wins over the general key, live as well.
        await service.settings.set("system.microservices.logs_live.logging.profile", "PRODUCTION")
        debug("hidden again %s", unique_name)
        assert not logs.filter(message=f"hidden again {unique_name}")

        await service.settings.set("system.logging.logstash.enabled", True)
        service.logger.info("to logstash %s", unique_name)
        events = await asyncio.to_thread(
            logstash_service.wait_for_events, lambda e: e.get("message") == f"to logstash {unique_name}", 10.0
        )
        assert events[0]["service_name"] == "logs_live" and events[0]["deploy_name"] == "live"

        # A bad value is reported and the previous configuration stays.
        await service.settings.set("system.microservices.logs_live.logging.profile", "LOUD")
        error = await logs.wait_for(contains="logging settings not applied", timeout=5)
        assert "system.logging.profile" in error.message and "DEVELOP, PRODUCTION" in error.message
        service.logger.info("still %s", unique_name)
        await asyncio.to_thread(
            logstash_service.wait_for_events, lambda e: e.get("message") == f"still {unique_name}", 10.0
        )
        await service.stop_gracefully(reason="test done")
        assert await asyncio.wait_for(running, 10) == 0


class ExtraLoggersContext(MicroserviceContext):
    name = "logs_extra"
    extra_loggers_names: ClassVar[list[str]] = ["logs_extra_library"]


async def test_service_and_extra_loggers_are_configured_alike(capsys: pytest.CaptureFixture[str]) -> None:
    ctx = ExtraLoggersContext(environ={})
    ctx.settings.update_internal({"system": {"logging": {"profile": "DEVELOP"}}})
    async with ctx:
        assert ctx.logger.name == "logs_extra"
        logging.getLogger("logs_extra_library").debug("from the library")
        for name in ("logs_extra", "logs_extra_library", "tamarco"):
            target = logging.getLogger(name)
            assert target.level == logging.DEBUG and target.propagate is False
            assert set(ctx.logging.handlers) <= set(target.handlers)
    assert "DEBUG logs_extra_library: from the library" in capsys.readouterr().out
    assert logging.getLogger("logs_extra_library").handlers == []  # given back at stop

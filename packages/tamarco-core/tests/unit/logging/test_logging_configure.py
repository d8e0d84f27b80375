"""Logging driven by Settings: outputs, live reconfigure, bad settings, stop, capture."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from tamarco.core.logging import Logging, LoggingSettingsError, MissingDependencyError, QueuedHandler
from tamarco.core.logging.logging import StdoutHandler
from tamarco.core.logging.testing import capture_logs
from tamarco.core.settings.settings import Settings, SettingsView

LOGGERS = ["unit_svc", "unit_extra"]


async def make_logging(tree: dict, name: str = "unit_svc") -> tuple[Logging, Settings]:
    settings = Settings(microservice_name=name, environ={})
    settings.update_internal({"system": {"logging": tree}})
    await settings.start()
    configured = Logging()
    configured.configure_provisional(LOGGERS)
    configured.configure_settings(SettingsView(settings, "system.logging"))
    try:
        await configured.start(LOGGERS, name, "deploy-u")
    except BaseException:
        await configured.stop()  # as the microservice does when its start fails
        raise
    return configured, settings


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Logging]]:
    created: list[Logging] = []
    yield created
    for item in created:
        await item.stop()


async def test_loggers_get_level_handlers_and_no_propagation(cleanup: list[Logging]) -> None:
    configured, _ = await make_logging({"profile": "DEVELOP"})
    cleanup.append(configured)
    for name in LOGGERS:
        target = logging.getLogger(name)
        assert target.level == logging.DEBUG
        assert target.propagate is False
        assert any(isinstance(h, StdoutHandler) for h in target.handlers)


async def test_stdout_human_and_json_lines(capsys: pytest.CaptureFixture[str], cleanup: list[Logging]) -> None:
    configured, settings = await make_logging({"stdout_format": "json"})
    cleanup.append(configured)
    logging.getLogger("unit_svc").info("as json", extra={"field": 1, "token": "abc"})
    line = capsys.readouterr().out.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["message"] == "as json" and event["field"] == 1 and event["token"] == "********"
    assert event["service_name"] == "unit_svc" and event["deploy_name"] == "deploy-u"
    await settings.set("system.logging.stdout_format", "human")
    await configured.reconfigure()
    logging.getLogger("unit_svc").info("as text")
    out = capsys.readouterr().out
    assert "INFO unit_svc: as text" in out and "\x1b[" not in out  # not a TTY: no colour


async def test_stdout_off(capsys: pytest.CaptureFixture[str], cleanup: list[Logging]) -> None:
    configured, _ = await make_logging({"stdout": False})
    cleanup.append(configured)
    logging.getLogger("unit_svc").warning("nowhere")
    assert "nowhere" not in capsys.readouterr().out


async def test_reconfigure_rebuilds_only_changed_outputs(cleanup: list[Logging]) -> None:
    configured, settings = await make_logging({"logstash": {"enabled": True, "port": 9}})
    cleanup.append(configured)
    udp = configured._outputs["logstash"][1]
    stdout = configured._outputs["stdout"][1]
    await settings.set("system.logging.profile", "DEVELOP")
    await configured.reconfigure()
    assert configured._outputs["logstash"][1] is udp and configured._outputs["stdout"][1] is stdout
    assert logging.getLogger("unit_svc").level == logging.DEBUG
    await settings.set("system.logging.logstash.port", 10)
    await configured.reconfigure()
    replacement = configured._outputs["logstash"][1]
    assert replacement is not udp and udp not in logging.getLogger("unit_svc").handlers
    assert replacement in logging.getLogger("unit_extra").handlers
    await settings.set("system.logging.logstash.enabled", False)
    await configured.reconfigure()
    assert "logstash" not in configured._outputs and replacement not in logging.getLogger("unit_svc").handlers


async def test_bad_live_setting_keeps_the_previous_configuration(cleanup: list[Logging]) -> None:
    configured, settings = await make_logging({"profile": "DEVELOP"})
    cleanup.append(configured)
    before = list(configured.handlers)
    await settings.set("system.logging.profile", "VERBOSE")
    with pytest.raises(LoggingSettingsError, match=r"system\.logging\.profile"):
        await configured.reconfigure()
    assert configured.handlers == before and logging.getLogger("unit_svc").level == logging.DEBUG


async def test_unknown_profile_at_start_names_setting_and_values() -> None:
    with pytest.raises(LoggingSettingsError, match=r"system\.logging\.profile.*DEVELOP, PRODUCTION"):
        await make_logging({"profile": "TESTING"})


async def test_per_microservice_override_applies(cleanup: list[Logging]) -> None:
    settings = Settings(microservice_name="dog", environ={})
    settings.update_internal(
        {
            "system": {
                "logging": {"profile": "PRODUCTION"},
                "microservices": {"dog": {"logging": {"profile": "DEVELOP"}}},
            }
        }
    )
    await settings.start()
    configured = Logging()
    cleanup.append(configured)
    configured.configure_settings(SettingsView(settings, "system.logging"))
    await configured.start(["dog"], "dog", None)
    assert logging.getLogger("dog").level == logging.DEBUG


async def test_stop_restores_loggers_and_closes_handlers() -> None:
    target = logging.getLogger("unit_svc")
    target.setLevel(logging.ERROR)
    configured, _ = await make_logging({"logstash": {"enabled": True, "port": 9}})
    udp = configured._outputs["logstash"][1]
    await configured.stop()
    assert target.handlers == [] and target.propagate is True and target.level == logging.ERROR
    assert isinstance(udp, QueuedHandler) and udp._task is not None and udp._task.done()
    target.setLevel(logging.NOTSET)


async def test_unwritable_file_path_names_the_setting(tmp_path) -> None:
    with pytest.raises(LoggingSettingsError, match=r"system\.logging\.file_path"):
        await make_logging({"file_path": str(tmp_path / "missing-dir" / "x.log")})


async def test_http_output_without_aiohttp_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(MissingDependencyError, match=r"system\.logging\.http\.enabled.*aiohttp"):
        await make_logging({"http": {"enabled": True, "url": "http://127.0.0.1:9/"}})


async def test_redis_output_without_redis_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(MissingDependencyError, match=r"system\.logging\.redis\.enabled.*redis"):
        await make_logging({"redis": {"enabled": True}})


async def test_capture_logs_sees_non_propagating_configured_loggers(cleanup: list[Logging]) -> None:
    with capture_logs() as logs:
        configured, _ = await make_logging({"stdout": False})
        cleanup.append(configured)
        logging.getLogger("unit_svc").info("captured", extra={"tags": ["t"], "user_id": 7})
        logging.getLogger("unit_svc.child").warning("child")
        logging.getLogger("elsewhere").error("propagating to root")
    record = logs.find(message="captured")
    assert record.extra == {"user_id": 7} and record.tags == ["t"] and record.logger == "unit_svc"
    assert logs.find(message="child").logger == "unit_svc.child"
    assert logs.find(contains="propagating").levelname == "ERROR"
    assert logs.filter(message="captured", user_id=7) and not logs.filter(message="captured", user_id=8)
    assert len(logs.filter(message="captured")) == 1  # not twice through root and the dispatcher
    logging.getLogger("unit_svc").info("after the block")
    assert "after the block" not in logs.messages


async def test_a_second_logging_stopping_leaves_the_first_one_captured(cleanup: list[Logging]) -> None:
    # Two services in one process configure the same loggers ("tamarco"): the one stopping
    # first gives back what it found, the other's capture dispatcher included.
    first, _ = await make_logging({"stdout": False})
    cleanup.append(first)
    second, _ = await make_logging({"stdout": False}, name="unit_other")
    await second.stop()
    with capture_logs() as logs:
        logging.getLogger("unit_svc").info("first still running")
    assert logs.find(message="first still running").logger == "unit_svc"
    await first.stop()
    target = logging.getLogger("unit_svc")
    assert target.handlers == [] and target.propagate is True and target.level == logging.NOTSET


async def test_capture_logs_level_and_wait_for(cleanup: list[Logging]) -> None:
    configured, _ = await make_logging({"stdout": False, "profile": "DEVELOP"})
    cleanup.append(configured)
    with capture_logs(level="INFO") as logs:
        logging.getLogger("unit_svc").debug("too low")
        logging.getLogger("unit_svc").info("kept")
        assert (await logs.wait_for(message="kept", timeout=1)).levelname == "INFO"
        with pytest.raises(AssertionError, match="no record matching"):
            await logs.wait_for(message="never", timeout=0.05)
    assert logs.messages == ["kept"]
    with pytest.raises(AssertionError, match="captured:"):
        logs.find(message="too low")


async def test_http_posts_json_batches_with_basic_auth(unused_tcp_port: int, cleanup: list[Logging]) -> None:
    """An in-process aiohttp endpoint stands in for Logstash to check the auth header."""
    received: list[tuple[str | None, list]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((request.headers.get("Authorization"), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        configured, _ = await make_logging(
            {
                "stdout": False,
                "http": {
                    "enabled": True,
                    "url": f"http://127.0.0.1:{unused_tcp_port}/",
                    "user": "elastic",
                    "password": "changeme",
                    "max_records": 3,
                    "max_time_seconds": 30,
                },
            }
        )
        for index in range(3):
            logging.getLogger("unit_svc").info("batch %d", index)
        for _ in range(500):
            if received:
                break
            await asyncio.sleep(0.01)
        await configured.stop()
    finally:
        await runner.cleanup()
    auth, batch = received[0]
    assert auth == "Basic " + base64.b64encode(b"elastic:changeme").decode()
    assert [event["message"] for event in batch] == ["batch 0", "batch 1", "batch 2"]


async def test_replaced_output_is_flushed_and_closed_in_the_background(cleanup: list[Logging]) -> None:
    configured, settings = await make_logging({"stdout": False, "logstash": {"enabled": True, "port": 9}})
    cleanup.append(configured)
    old = configured._outputs["logstash"][1]
    assert isinstance(old, QueuedHandler)
    await settings.set("system.logging.logstash.port", 10)
    await configured.reconfigure()
    for _ in range(200):
        if old._task is not None and old._task.done():
            break
        await asyncio.sleep(0.01)
    assert old._task is not None and old._task.done() and old.transport._socket is None  # type: ignore[attr-defined]


async def test_a_service_with_an_unknown_profile_does_not_start() -> None:
    from tamarco.core.microservice import MicroserviceContext

    ctx = MicroserviceContext("unit_bad_profile", environ={})
    ctx.settings.update_internal({"system": {"logging": {"profile": "debug"}}})
    with pytest.raises(LoggingSettingsError) as error:
        async with ctx:
            pass
    assert "system.logging.profile is 'debug'; allowed values: DEVELOP, PRODUCTION" in str(error.value)
    assert logging.getLogger("unit_bad_profile").handlers == []

"""The same records reach the harness's Logstash input over UDP, Redis and HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tamarco.core.logging import Logging
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.settings.settings import Settings, SettingsView

pytestmark = pytest.mark.functional

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def context(name: str, logging_tree: dict[str, Any]) -> MicroserviceContext:
    ctx = MicroserviceContext(name, environ={})
    ctx.settings.update_internal(
        {"system": {"deploy_name": "functional-deploy", "logging": {"stdout": False, **logging_tree}}}
    )
    return ctx


def outputs(logstash_service: Any) -> dict[str, tuple[dict[str, Any], str, int]]:
    """output id -> (system.logging settings, expected harness_input, format version)."""
    redis = logstash_service.redis
    return {
        "udp-v1": ({"logstash": {"enabled": True, "port": logstash_service.udp_port, "version": 1}}, "udp", 1),
        "udp-v0": ({"logstash": {"enabled": True, "port": logstash_service.udp_port, "version": 0}}, "udp", 0),
        "redis-list": (
            {"redis": {"enabled": True, "port": redis.port, "key": logstash_service.redis_key}},
            "redis_list",
            1,
        ),
        "redis-channel": (
            {
                "redis": {
                    "enabled": True,
                    "port": redis.port,
                    "data_type": "channel",
                    "key": logstash_service.redis_channel,
                    "version": 0,
                }
            },
            "redis_channel",
            0,
        ),
        "http": (
            {"http": {"enabled": True, "url": logstash_service.url, "max_records": 2, "max_time_seconds": 0.2}},
            "http",
            1,
        ),
    }


def flat(event: dict[str, Any], version: int) -> dict[str, Any]:
    """Version 0 keeps its fields under @fields; give both versions one shape to check."""
    if version == 1:
        return {**event, "the_message": event["message"], "the_tags": event["tags"]}
    return {**event["@fields"], "the_message": event["@message"], "the_tags": event["@tags"], **event}


@pytest.mark.harness_backends("local", "docker")  # Redis, the collector or its image, on both backends
@pytest.mark.parametrize("output", ["udp-v1", "udp-v0", "redis-list", "redis-channel", "http"])
async def test_record_arrives_with_every_field(output: str, logstash_service: Any, unique_name: str) -> None:
    tree, expected_input, version = outputs(logstash_service)[output]
    async with context("logs_" + output.replace("-", "_"), tree) as ctx:
        ctx.logger.info(
            "hello %s",
            unique_name,
            extra={"tags": {"tag": "tag_value"}, "extra_field": "v", "password": "hunter2", "odd": object()},
        )
        try:
            raise KeyError("boom")
        except KeyError:
            ctx.logger.warning("failed %s", unique_name, exc_info=True)
    events = await asyncio.to_thread(
        logstash_service.wait_for_events, lambda e: unique_name in str(e.get("message", e.get("@message"))), 10.0, 2
    )
    by_message = {flat(e, version)["the_message"]: flat(e, version) for e in events}
    info = by_message[f"hello {unique_name}"]
    assert info["harness_input"] == expected_input
    assert info["service_name"] == ctx.name and info["deploy_name"] == "functional-deploy"
    assert info["levelname"] == "INFO" and info["logger"] == ctx.name
    assert ISO_UTC.match(info["@timestamp"])
    assert "tag:tag_value" in info["the_tags"]  # a dict of tags becomes Logstash's list of strings
    assert info["extra_field"] == "v"
    assert info["password"] == "********" and "hunter2" not in str(events)
    assert info["odd"].startswith("<object object at")
    assert "stack_trace" not in info
    failure = by_message[f"failed {unique_name}"]
    assert failure["levelname"] == "WARNING"
    assert (
        "Traceback (most recent call last)" in failure["stack_trace"] and "KeyError: 'boom'" in failure["stack_trace"]
    )


@contextlib.asynccontextmanager
async def bare_logging(name: str, tree: dict[str, Any]) -> AsyncIterator[Logging]:
    """Logging alone (no lifecycle lines), so the batch contents are only the test's records."""
    settings = Settings(microservice_name=name, environ={})
    settings.update_internal({"system": {"logging": {"stdout": False, **tree}}})
    await settings.start()
    configured = Logging()
    configured.configure_settings(SettingsView(settings, "system.logging"))
    await configured.start([name], name, "functional-deploy")
    try:
        yield configured
    finally:
        await configured.stop()


async def test_http_batches_by_count(logstash_service: Any, unique_name: str) -> None:
    tree = {"http": {"enabled": True, "url": logstash_service.url, "max_records": 3, "max_time_seconds": 60}}
    logger = logging.getLogger("logs_http_count")

    def mine() -> list[dict[str, Any]]:
        return [e for e in logstash_service.events() if unique_name in str(e.get("message"))]

    async with bare_logging("logs_http_count", tree) as configured:
        logger.info("1 %s", unique_name)
        logger.info("2 %s", unique_name)
        await asyncio.sleep(0.5)  # proving a negative: nothing may arrive before the third record
        assert mine() == []
        logger.info("3 %s", unique_name)
        started = time.monotonic()
        events = await asyncio.to_thread(
            logstash_service.wait_for_events, lambda e: unique_name in str(e.get("message")), 10.0, 3
        )
        assert time.monotonic() - started < 10  # the count, not the 60 s timer, sent them
        logger.info("4 %s", unique_name)
        await asyncio.sleep(0.3)
        assert len(mine()) == 3  # the fourth waits for its batch to fill or for the stop
        assert configured.statistics()["http"].queued == 1
    assert [e["message"].split()[0] for e in events] == ["1", "2", "3"]
    assert len(mine()) == 4  # the stop flushed the partial batch


async def test_http_batches_by_time(logstash_service: Any, unique_name: str) -> None:
    tree = {"http": {"enabled": True, "url": logstash_service.url, "max_records": 1000, "max_time_seconds": 0.7}}
    logger = logging.getLogger("logs_http_time")
    async with bare_logging("logs_http_time", tree) as configured:
        started = time.monotonic()
        logger.info("a %s", unique_name)
        logger.info("b %s", unique_name)
        await asyncio.to_thread(
            logstash_service.wait_for_events, lambda e: unique_name in str(e.get("message")), 10.0, 2
        )
        elapsed = time.monotonic() - started
        assert elapsed >= 0.6  # held for max_time_seconds, then sent although the batch is not full
        assert configured.statistics()["http"].sent == 2

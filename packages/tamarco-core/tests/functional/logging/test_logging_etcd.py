"""Logging settings changed in etcd reach a running service: profile, new output, address."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any, ClassVar

import pytest
from tamarco.core.logging.testing import CapturedLogs, capture_logs
from tamarco.core.microservice import MicroserviceContext

pytestmark = pytest.mark.functional


class EtcdLoggingContext(MicroserviceContext):
    name = "logs_etcd"
    use_default_resources: ClassVar[bool] = False


async def changed_twice(logs: CapturedLogs, text: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(logs.filter(contains=text)) < 2:
        assert time.monotonic() < deadline, f"{text!r} not logged twice: {logs.messages}"
        await asyncio.sleep(0.02)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_profile_output_and_address_change_live_from_etcd(
    etcd_service: Any, etcd_prefix: str, logstash_service: Any, unique_name: str
) -> None:
    def put(path: str, value: Any) -> None:
        etcd_service.put(etcd_prefix.rstrip("/") + "/" + path, json.dumps(value))

    put("system/logging/profile", "PRODUCTION")
    put("system/logging/stdout", False)
    env = {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix, "TAMARCO_ETCD_STARTUP_TIMEOUT": "10"}
    ctx = EtcdLoggingContext(environ=env)
    with capture_logs() as logs:
        async with ctx:
            ctx.logger.debug("hidden %s", unique_name)
            put("system/logging/profile", "DEVELOP")
            await logs.wait_for(contains="system.logging.profile changed", timeout=5)
            ctx.logger.debug("shown %s", unique_name)
            assert not logs.filter(message=f"hidden {unique_name}")
            logs.find(message=f"shown {unique_name}")

            # A Redis output at a dead address, then moved to the harness's Redis.
            put("system/logging/redis/port", closed_port())
            put("system/logging/redis/key", logstash_service.redis_key)
            put("system/logging/redis/enabled", True)
            await logs.wait_for(contains="system.logging.redis.enabled changed", timeout=5)
            ctx.logger.info("while dead %s", unique_name)
            put("system/logging/redis/port", logstash_service.redis.port)
            await changed_twice(logs, "system.logging.redis.port changed")
            ctx.logger.info("after the move %s", unique_name)
            events = await asyncio.to_thread(
                logstash_service.wait_for_events,
                lambda e: e.get("message") == f"after the move {unique_name}",
                10.0,
            )
            assert events[0]["harness_input"] == "redis_list" and events[0]["service_name"] == "logs_etcd"
            assert ctx.logging.statistics()["redis"].sent >= 1
    # The record sent while the address was dead was counted as dropped when that output was replaced.
    assert not [e for e in logstash_service.events() if e.get("message") == f"while dead {unique_name}"]
    report = logs.find(contains="dropped", logger="tamarco.logging")
    assert report.extra["logging_handler"] == "redis"

"""Fixtures of the AMQP functional tests: the harness broker's settings, service processes (the
harness's :class:`~tamarco.harness.ServiceProcess`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tamarco.harness import RabbitMQService, ServiceProcess


@pytest.fixture
def amqp_settings(rabbitmq_service: RabbitMQService) -> Any:
    """``amqp_settings(**extra)``: ``system.resources.<amqp>`` for the harness broker."""

    def settings(**extra: Any) -> dict[str, Any]:
        return {
            "host": rabbitmq_service.host,
            "port": rabbitmq_service.port,
            "vhost": "/",
            "user": rabbitmq_service.user,
            "password": rabbitmq_service.password,
            "connection_timeout": 10,
            **extra,
        }

    return settings


@pytest.fixture
def service_process() -> Iterator[Any]:
    """``service_process(script, settings, *args)`` starts the harness's :class:`ServiceProcess`;
    every one still running is killed after the test."""
    started: list[ServiceProcess] = []

    def start(script: Path, settings: dict[str, Any], *args: str) -> ServiceProcess:
        started.append(ServiceProcess([sys.executable, str(script), *args], settings=settings).start())
        return started[-1]

    yield start
    for process in started:
        process.__exit__(None, None, None)

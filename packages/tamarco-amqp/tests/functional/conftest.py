"""Service processes for the AMQP functional tests: run a script with a settings file, read its
output line by line, stop it with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tamarco.harness import RabbitMQService


class ServiceProcess:
    """A Tamarco service running in a subprocess; its stdout+stderr read by a thread."""

    def __init__(self, script: Path, settings: dict[str, Any], workdir: Path, *args: str) -> None:
        settings_file = workdir / f"settings-{script.stem}-{time.monotonic_ns()}.yml"
        settings_file.write_text(yaml.safe_dump(settings))
        self.process = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TAMARCO_YML_FILE": str(settings_file)},
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._done.set()
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def count(self, pattern: str) -> int:
        return sum(1 for line in list(self.lines) if re.search(pattern, line))

    def wait_for(self, pattern: str, timeout: float = 30.0, count: int = 1) -> re.Match[str]:
        """Wait until ``count`` lines matched ``pattern``; the last match."""
        deadline = time.monotonic() + timeout
        while True:
            found = [match for line in list(self.lines) if (match := re.search(pattern, line))]
            if len(found) >= count:
                return found[-1]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._done.is_set():
                pytest.fail(f"{pattern!r} printed {len(found)} time(s), expected {count}:\n{self.output[-6000:]}")
            with self._changed:
                self._changed.wait(min(remaining, 0.5))

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the exit; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)


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
def service_process(tmp_path: Path) -> Iterator[Any]:
    """``service_process(script, settings, *args)`` starts a :class:`ServiceProcess`; every one
    still running is killed after the test."""
    started: list[ServiceProcess] = []

    def start(script: Path, settings: dict[str, Any], *args: str) -> ServiceProcess:
        started.append(ServiceProcess(script, settings, tmp_path, *args))
        return started[-1]

    yield start
    for process in started:
        process.kill()

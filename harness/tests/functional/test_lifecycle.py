"""Lifecycle rules of Service, on a small two-process service made of Python children."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from tamarco.harness import Service
from tamarco.harness._probes import tcp_open
from tamarco.harness._process import ProcessSpec

pytestmark = pytest.mark.functional

LISTENER = (
    "import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('127.0.0.1', {port})); s.listen(); print('listening', flush=True); time.sleep(600)"
)


class TwoProcesses(Service):
    """A helper on one port that must be up before the main process on the other."""

    kind = "pair"
    port_names = ("main", "helper")
    start_timeout = 10.0

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {}

    def is_ready(self) -> bool:
        return tcp_open(self.host, self.port)

    def local_processes(self) -> list[ProcessSpec]:
        helper = self.ports["helper"]
        return [
            ProcessSpec("helper", [sys.executable, "-c", LISTENER.format(port=helper)], ready_port=helper),
            ProcessSpec("main", [sys.executable, "-c", LISTENER.format(port=self.port)]),
        ]


@pytest.fixture
def pair():
    service = TwoProcesses("local")
    service.start()
    yield service
    service.close()


def pids(service: Service) -> list[int]:
    return [p.pid for p in service._runner._processes]  # type: ignore[attr-defined]


def test_children_start_in_order_and_stop_completely(pair):
    assert pair.running
    assert tcp_open("127.0.0.1", pair.ports["helper"]) and tcp_open("127.0.0.1", pair.port)
    assert "listening" in pair.log_tail()
    pair.stop()
    assert not pair.running
    assert not tcp_open("127.0.0.1", pair.ports["helper"]) and not tcp_open("127.0.0.1", pair.port)


def test_a_partly_dead_service_starts_again_at_the_same_address(pair):
    ports = dict(pair.ports)
    helper_pid, main_pid = pids(pair)
    os.kill(main_pid, signal.SIGKILL)  # the main process dies; the helper lives on
    pair.wait_for(lambda: not pair.running, 5, "for the kill to show")
    pair.start()
    assert pair.running and pair.ports == ports
    assert helper_pid not in pids(pair)


def test_close_removes_the_temp_directory(pair):
    workdir = pair.workdir
    assert workdir.exists()
    pair.close()
    assert not workdir.exists()
    pair.close()  # idempotent

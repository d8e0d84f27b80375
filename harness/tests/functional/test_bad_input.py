"""Faults at start: a dying child, a port taken by a stranger."""

from __future__ import annotations

import socket
import time

import pytest
from tamarco.harness import PortInUseError, RedisService, ServiceStartError
from tamarco.harness._process import ProcessSpec

pytestmark = pytest.mark.functional


class BrokenRedis(RedisService):
    """A real redis-server given a directive it rejects: it exits at once."""

    def local_processes(self) -> list[ProcessSpec]:
        [spec] = super().local_processes()
        return [ProcessSpec(spec.name, [*spec.argv, "--no-such-directive", "yes"])]


def test_a_child_dying_on_start_fails_fast_with_its_log_tail():
    service = BrokenRedis("local")
    started = time.monotonic()
    try:
        with pytest.raises(ServiceStartError) as caught:
            service.start()
    finally:
        service.close()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "redis: exited while waiting" in message
    assert "no-such-directive" in message  # redis's own complaint, from the log tail
    assert elapsed < service.start_timeout / 2, "it must not wait for the start timeout"
    assert not service.workdir.exists()


def test_a_port_taken_before_the_first_start_is_replaced():
    service = RedisService("local")
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", service.port))
        stranger.listen()
        taken = service.port
        try:
            service.start()
            assert service.port != taken
            assert service.is_ready()
        finally:
            service.close()


def test_a_port_taken_while_stopped_is_refused(monkeypatch):
    monkeypatch.setattr("tamarco.harness._service.PORT_RELEASE_TIMEOUT", 0.5)  # waited for, then refused
    service = RedisService("local")
    try:
        service.start()
        service.stop()
        with socket.socket() as stranger:
            stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            stranger.bind(("127.0.0.1", service.port))
            stranger.listen()
            with pytest.raises(PortInUseError, match=str(service.port)):
                service.start()
        assert not service.running
        service.start()  # the stranger is gone: the same address works again
        assert service.is_ready()
    finally:
        service.close()

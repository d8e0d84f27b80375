"""Readiness probes: small synchronous checks that return ``True`` once a service answers.

They never raise on connection errors (a service that is still starting refuses
connections); they return ``False`` instead, and the caller polls with a deadline.
"""

from __future__ import annotations

import json
import socket
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get_json(url: str, timeout: float = 2.0) -> Any:
    """GET ``url`` and decode the JSON body (raises ``OSError``/``ValueError`` on failure)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def http_ok(url: str, check: Callable[[bytes], bool] | None = None, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers 2xx (and its body passes ``check``, when given)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return check(body) if check else True


def redis_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a Redis server answers ``PING`` with ``+PONG``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def amqp_handshake(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether an AMQP 0-9-1 broker answers the protocol header with ``connection.start``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            frame = sock.recv(7)
    except OSError:
        return False
    # Frame type 1 (method) on channel 0: the broker's connection.start.
    return len(frame) == 7 and frame[0] == 1 and frame[1:3] == b"\x00\x00"


def kafka_api_versions(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Kafka-protocol broker answers an ``ApiVersions`` (v0) request without error.

    A TCP connect alone is not enough: Docker's port proxy accepts connections before the
    broker in the container listens.
    """
    client_id = b"tamarco-harness"
    body = struct.pack("!hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!i", len(body)) + body)
            header = _recv_exactly(sock, 10)
    except OSError:
        return False
    if header is None:
        return False
    _size, correlation_id, error_code = struct.unpack("!iih", header)
    return correlation_id == 1 and error_code == 0


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data

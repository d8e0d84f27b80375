"""Free loopback ports and port probes."""

from __future__ import annotations

import socket
import threading

LOOPBACK = "127.0.0.1"

_handed_out: set[int] = set()
_lock = threading.Lock()


def port_is_bound(port: int, host: str = LOOPBACK) -> bool:
    """Whether something accepts TCP connections on ``host:port``, or holds it bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        if probe.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as binder:
        # As servers do: connections in TIME_WAIT from a stopped server do not count.
        binder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            binder.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that is free now and was not handed out before in this process.

    Remembering the ports already handed out avoids giving one port to two services that
    are being started in parallel before either has bound it.
    """
    with _lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise OSError(f"no free TCP port found on {host}")

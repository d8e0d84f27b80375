from __future__ import annotations

import socket

from tamarco.harness import free_port, port_is_bound


def test_free_port_never_hands_out_a_port_twice():
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)


def test_free_port_is_not_bound():
    assert not port_is_bound(free_port())


def test_a_listening_port_is_bound():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert port_is_bound(server.getsockname()[1])


def test_a_bound_but_not_listening_port_is_bound():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        assert port_is_bound(holder.getsockname()[1])

"""The web view's listening socket, made before uvicorn starts so that port 0 works and the
port bound is known."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: a free one; IPv6 with or without brackets).

    TCP_NODELAY is set on it, and Linux gives it to every connection accepted: uvicorn sets
    it only on sockets it binds itself, and without it a keep-alive connection waited 40 ms
    for each answer (Nagle's algorithm holding the body until the client's delayed ACK of
    the headers). Raises OSError when the address cannot be bound.
    """
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.create_server((address, port), family=family, backlog=128)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock

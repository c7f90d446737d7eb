"""What the loopback peers' HTTP handlers share."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler


class PromptHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with kept-alive connections, answering without Nagle's delay.

    Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed
    ACK holds each answer back by about 40 ms, which made every request ten times slower.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

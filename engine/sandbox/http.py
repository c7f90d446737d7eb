"""What the loopback peers share: their handlers' HTTP habits, and serving on a thread."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PromptHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with kept-alive connections, answering without Nagle's delay.

    Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed
    ACK holds each answer back by about 40 ms, which made every request ten times slower.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class ServerThread:
    """One peer's HTTP server, answering on a daemon thread until :meth:`stop`."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self.server = server
        threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

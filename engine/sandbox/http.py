"""What the loopback peers share: their handlers' HTTP habits, and serving on a thread."""

from __future__ import annotations

import json
import socket
import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class PromptHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with kept-alive connections, answering without Nagle's delay.

    Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed
    ACK holds each answer back by about 40 ms, which made every request ten times slower.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any, **headers: str) -> None:
    """A JSON answer; header names are spelled with ``_`` for ``-`` (``Retry_After``)."""
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


class ServerThread:
    """One peer's HTTP server, answering on a daemon thread until :meth:`stop`.

    The server checks for shutdown every 50 ms (the default is 500 ms), so :meth:`stop`
    returns at once: tests start and stop a peer each.
    """

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self.server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LoopbackPeer(ABC):
    """A peer's life: :meth:`start` serves it on a thread until :meth:`stop`, and a ``with``
    block does both."""

    _serving: ServerThread | None = None

    @abstractmethod
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve (see :meth:`serve`); returns the URL clients are given."""

    def serve(self, server: ThreadingHTTPServer, name: str) -> None:
        self._serving = ServerThread(server, name)

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None
        self.release()

    @abstractmethod
    def release(self) -> None:
        """Close what the peer owns besides its server."""

    def __enter__(self) -> Self:
        if self._serving is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

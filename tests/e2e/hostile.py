"""A hostile HTTP server on 127.0.0.1: each request is answered by a function that may
drip, flood, throttle or point elsewhere, and the server counts what it was sent."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engine.sandbox.http import PromptHandler, ServerThread, send_json

Answer = Callable[[BaseHTTPRequestHandler], None]


class HostileServer:
    """Serves ``answer`` for every request until the ``with`` block ends; over TLS with the
    certificate and key in the PEM file ``tls``."""

    def __init__(self, answer: Answer, tls: Path | None = None) -> None:
        self.answer = answer
        self.requests: list[str] = []
        self.sent = 0
        """Body bytes written, for the floods."""
        self.stopping = threading.Event()
        server = self

        class Handler(PromptHandler):
            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                server.requests.append(f"{self.command} {self.path}")
                try:
                    server.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                if server.stopping.is_set():
                    self.close_connection = True

            do_GET = do_POST = do_PATCH = do_DELETE = handle_one

            def log_message(self, *_: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._http.owner = self  # type: ignore[attr-defined]
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls)
            self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread = ServerThread(self._http, "hostile-server")
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self._thread.stop()


def drip(interval: float = 0.25) -> Answer:
    """A 200 whose body comes one byte every ``interval`` seconds, for ever: every read
    gets something before its timeout, the answer never completes."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/xml; charset=utf-8")
        handler.send_header("Content-Length", "100000000")
        handler.end_headers()
        server = _server_of(handler)
        while not server.stopping.wait(interval):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return answer


def flood(total: int) -> Answer:
    """A 200 of ``total`` bytes, sent as fast as the client reads."""
    chunk = b"x" * (1 << 16)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        server = _server_of(handler)
        while server.sent < total and not server.stopping.is_set():
            handler.wfile.write(chunk)
            server.sent += len(chunk)

    return answer


def json_answer(
    handler: BaseHTTPRequestHandler, body: Any, status: int = 200, **headers: str
) -> None:
    send_json(handler, status, body, **headers)


def _server_of(handler: BaseHTTPRequestHandler) -> HostileServer:
    return handler.server.owner  # type: ignore[attr-defined]


def finishes(call: Callable[[], object], within: float) -> BaseException | object:
    """What ``call`` returned or raised, if it ended within ``within`` seconds; fails the
    test otherwise (the call is left running on a daemon thread)."""
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as error:
            outcome.append(error)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    assert outcome, f"still running after {time.monotonic() - started:.1f} s"
    return outcome[0]

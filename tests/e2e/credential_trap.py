"""A hostile loopback HTTP server that records every credential sent to it.

It answers every request with 401 and a Basic challenge, so a client that has a password
sends it; the tests then ask whether a secret reached it, in clear or in Basic's base64.
"""

from __future__ import annotations

import base64
import binascii
import threading
from http.server import ThreadingHTTPServer

from engine.sandbox.http import LoopbackPeer, PromptHandler


class _Handler(PromptHandler):
    server: _TrapServer

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 1 << 20)).decode("utf-8", "replace")
        self.server.record(str(self.headers) + body)
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="trap"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads what was received, not a log on stderr."""


class _TrapServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.received: list[str] = []
        self._lock = threading.Lock()

    def record(self, text: str) -> None:
        with self._lock:
            self.received.append(text)


class CredentialTrap(LoopbackPeer):
    """Start it, point a client at :attr:`url`, then ask :meth:`got`."""

    url = ""
    _server: _TrapServer | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = _TrapServer((host, port))
        self.serve(self._server, "credential-trap")
        self.url = f"http://{host}:{self._server.server_port}/EWS/Exchange.asmx"
        return self.url

    def release(self) -> None:
        """The trap owns nothing besides its server."""

    @property
    def requests(self) -> int:
        return len(self._server.received) if self._server else 0

    def got(self, secret: str) -> bool:
        """Whether ``secret`` arrived in any request, in clear or inside Basic credentials."""
        texts = list(self._server.received) if self._server else []
        for text in list(texts):
            for line in text.splitlines():
                name, _, value = line.partition(":")
                scheme, _, token = value.strip().partition(" ")
                if name.lower() == "authorization" and scheme.lower() == "basic":
                    try:
                        texts.append(base64.b64decode(token).decode("utf-8", "replace"))
                    except binascii.Error:
                        continue
        return any(secret in text for text in texts)

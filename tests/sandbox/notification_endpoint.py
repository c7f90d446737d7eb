"""An https endpoint that records what Graph's peer posts to it and answers as told."""

from __future__ import annotations

import json
import queue
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Posted:
    query: dict[str, list[str]]
    content_type: str
    body: Any


class Endpoint:
    """``echo``: answer validation requests with the token (else with a wrong one)."""

    def __init__(self, certificate: Path, key: str | Path, echo: bool = True) -> None:
        self.echo = echo
        self.posted: queue.Queue[Posted] = queue.Queue()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = parse_qs(urlsplit(self.path).query)
                body = json.loads(raw) if raw else None
                endpoint.posted.put(Posted(query, self.headers.get("Content-Type", ""), body))
                token = query.get("validationToken", [""])[0]
                answer = (token if endpoint.echo else "not the token").encode()
                self.send_response(200 if token else 202)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer) if token else 0))
                self.end_headers()
                if token:
                    self.wfile.write(answer)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/graph"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout: float = 5.0) -> Posted:
        return self.posted.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

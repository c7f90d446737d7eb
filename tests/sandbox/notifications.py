"""Change notifications in tests: the Graph peer that sends them, a client of it, and an
https endpoint that records what the peer posts and answers as told."""

from __future__ import annotations

import json
import queue
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from engine.sandbox.graph import GraphEmulator
from tests.sandbox.peer import new_emulator

TENANT = "0b7e5c1a-3f4d-4e2a-9c8b-1d2e3f4a5b6c"
CLIENT = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
SECRET = "graph~S3cret"
EVENT = {
    "subject": "Visit",
    "start": {"dateTime": "2026-11-25T10:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-11-25T11:00:00", "timeZone": "UTC"},
}


@contextmanager
def notifying_graph(ca_file: Path, *granted: str) -> Iterator[GraphEmulator]:
    """The Graph peer over Alice's and Bob's mailboxes (Bob's outside the access policy
    unless ``granted``), trusting the receivers ``ca_file`` signed."""
    emulator = new_emulator()
    for address in granted:
        emulator.grant(address)
    peer = GraphEmulator(emulator.store, TENANT, CLIENT, SECRET, notification_ca=str(ca_file))
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
        emulator.stop()


def graph_client(graph: GraphEmulator) -> httpx.Client:
    """httpx at the peer's Graph URL with the app's token."""
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    token = httpx.post(graph.token_url, data=form | {"scope": "x/.default"}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    return httpx.Client(base_url=graph.url, headers=headers)


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

"""The HTTP side: Entra ID's token endpoint and Graph's ``/v1.0`` on one loopback port.

A Graph request is counted, authenticated by its bearer token, then routed (a ``$batch``
routes each of its requests); every answer is Graph's JSON.
"""

from __future__ import annotations

import json
import logging
import re
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.sandbox.graph import auth, batch
from engine.sandbox.graph.errors import GraphError, bad_request, not_implemented
from engine.sandbox.graph.request import Reply, Request, refusal
from engine.sandbox.graph.routes import INTERNAL_ERROR, dispatch, operation_of, user_of
from engine.sandbox.graph.state import PeerState
from engine.sandbox.http import PromptHandler

log = logging.getLogger(__name__)
VERSION = "/v1.0"
_TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
_MALFORMED = object()


class Handler(PromptHandler):
    server: GraphHttpServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("graph emulator: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        token_path = _TOKEN_PATH.match(urlsplit(self.path).path)
        if token_path is not None and self.command == "POST":
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
            status, answer = auth.token(self.server.state, unquote(token_path[1]), form)
            self._send(Reply(status, answer))
            return
        try:
            reply = self._graph(raw)
        except GraphError as error:
            reply = refusal(error)
        except Exception:
            log.exception("graph emulator failed on %s %s", self.command, self.path)
            reply = Reply(500, INTERNAL_ERROR)
        self._send(reply)

    def _graph(self, raw: bytes) -> Reply:
        state = self.server.state
        if not self.path.lower().startswith(VERSION + "/"):
            state.stats.count("unimplemented", "")
            raise not_implemented(f"{self.command} {urlsplit(self.path).path}")
        body = _json(raw)
        request = Request.parse(self.command, self.path[len(VERSION) :], self.headers.items(), body)
        is_batch = request.method == "POST" and request.segments == ["$batch"]
        if is_batch:
            state.stats.count("$batch", batch.first_mailbox(body))
        else:
            state.stats.count(operation_of(request), user_of(request))
        roles = auth.bearer_roles(state, self.headers.get("Authorization", ""))
        if body is _MALFORMED:
            raise bad_request("Unable to read JSON request payload: it is not valid JSON.")
        if is_batch:
            return batch.run(state, roles, batch.requests_of(request))
        return dispatch(state, roles, request)

    def _send(self, reply: Reply) -> None:
        payload = json.dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return _MALFORMED


class GraphHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: PeerState) -> None:
        super().__init__(address, Handler)
        self.state = state

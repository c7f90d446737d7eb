"""The HTTPS endpoint Microsoft Graph posts change notifications to.

It answers Graph's validation request (``?validationToken=...``: 200, text/plain, the token
echoed) and takes notifications with 202 before anything else is done with them (Graph
counts an answer slower than 3 s as a failure and, after many, drops notifications).
A notification whose ``clientState`` is not this installation's secret is logged and
ignored: anyone on the internet can post to the URL. The TLS handshake runs in the
connection's own thread, so a client that stalls holds up nobody else.
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from engine.errors import UserError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
"""Graph's notification batches are small; anything larger is not Graph's."""
_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Notice:
    """One entry of a notification's ``value``: a change, or a lifecycle event."""

    subscription_id: str
    change_type: str
    """created, updated or deleted; "" for a lifecycle notification."""
    lifecycle_event: str
    """reauthorizationRequired, subscriptionRemoved or missed; "" for a change."""
    at: datetime
    """When it arrived (Graph's notifications carry no time of the change)."""


class ReceiverError(UserError):
    """The receiver cannot serve (its address, certificate or key)."""


class Receiver:
    """Serves on a thread from :meth:`start` until :meth:`close`; each accepted notice goes
    to ``deliver`` (called from the connection's thread: keep it quick)."""

    def __init__(
        self,
        listen: str,
        certificate: str,
        key: str,
        client_state: str,
        deliver: Callable[[Notice], None],
    ) -> None:
        self.listen = listen
        self._certificate = certificate
        self._key = key
        self.client_state = client_state
        self.deliver = deliver
        self._server: _Server | None = None

    def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(self._certificate, self._key)
        except (OSError, ssl.SSLError) as error:
            raise ReceiverError(
                f"the notification receiver cannot use the certificate {self._certificate} and"
                f" key {self._key}: {getattr(error, 'strerror', None) or error}"
            ) from None
        try:
            server = _Server((host.strip("[]"), int(port)), self)
        except OSError as error:
            raise ReceiverError(
                f"the notification receiver cannot listen on {self.listen}: {error.strerror}"
            ) from None
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="graph-receiver",
            daemon=True,
        ).start()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accept(self, entries: list[object]) -> None:
        """Pass on the entries whose clientState is ours; log the others."""
        now = datetime.now(UTC)
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            given = str(entry.get("clientState") or "")
            subscription = str(entry.get("subscriptionId", ""))
            if not hmac.compare_digest(given.encode(), self.client_state.encode()):
                log.warning(
                    "a Graph notification for subscription %s with a wrong clientState was"
                    " ignored (not from Microsoft Graph, or meant for another installation)",
                    subscription or "(none)",
                )
                continue
            self.deliver(
                Notice(
                    subscription,
                    str(entry.get("changeType", "")),
                    str(entry.get("lifecycleEvent", "")),
                    now,
                )
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        super().__init__(address, _Handler)
        self.receiver = receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = _TIMEOUT_SECONDS

    def log_message(self, format: str, *args: object) -> None:
        log.debug("graph receiver: " + format, *args)

    def do_POST(self) -> None:
        tokens = parse_qs(urlsplit(self.path).query).get("validationToken")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, b"")
            return
        body = self.rfile.read(length) if length else b""
        if tokens:
            self._answer(200, tokens[0].encode(), "text/plain; charset=utf-8")
            return
        try:
            entries = json.loads(body)["value"]
            if not isinstance(entries, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            self._answer(400, b"")
            return
        self._answer(202, b"")
        self.server.receiver.accept(entries)

    def _answer(self, status: int, payload: bytes, content_type: str = "") -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

"""The HTTP side: ``/EWS/Exchange.asmx`` and an OAuth2 token endpoint on a loopback port.

Authentication is HTTP Basic (an unauthenticated request gets 401 offering only Basic, so
exchangelib's auth probe chooses it) or a bearer token from the token endpoint. Requests
run through the fault switches first, then to the operation's handler.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from xml.etree import ElementTree as ET

from engine.sandbox.ews import streaming
from engine.sandbox.ews.faults import Fault, FaultKind, Faults
from engine.sandbox.ews.items import UnsupportedError
from engine.sandbox.ews.notifications import Notifications, Routing, Stream
from engine.sandbox.ews.operations import OPERATIONS, Context
from engine.sandbox.ews.soap import (
    EwsError,
    SoapFaultError,
    busy,
    envelope,
    fault,
    response,
    sync_error,
)
from engine.sandbox.ews.store import Store
from engine.sandbox.ews.xml import SOAP, local, t
from engine.sandbox.http import PromptHandler

log = logging.getLogger(__name__)
EWS_PATH = "/EWS/Exchange.asmx"

WireObserver = Callable[[bytes, bytes | None], None]
"""Sees each SOAP request and the envelope answered to it (``None`` when the answer is no
SOAP: a reset, a 401, an HTML error page) before the answer leaves; tests judge both
against the official schema."""
_observers: list[WireObserver] = []


@contextmanager
def observing(observer: WireObserver) -> Iterator[None]:
    """Show every emulator's SOAP traffic to ``observer`` while the block runs."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, made before it is sent so that observers see it first."""

    status: int
    payload: bytes
    content_type: str = "text/xml; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StreamReply:
    """A GetStreamingEvents answer: envelopes sent as they come, in one chunked response."""

    stream: Stream
    api_version: str | None


@dataclass
class Stats:
    """Requests per operation and per mailbox, for benchmarks."""

    by_operation: Counter[str] = field(default_factory=Counter)
    by_mailbox: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, operation: str, mailbox: str) -> None:
        with self.lock:
            self.by_operation[operation] += 1
            self.by_mailbox[mailbox] += 1

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {
                "total": sum(self.by_operation.values()),
                "by_operation": dict(self.by_operation),
                "by_mailbox": dict(self.by_mailbox),
            }

    def reset(self) -> None:
        with self.lock:
            self.by_operation.clear()
            self.by_mailbox.clear()


@dataclass
class ServerState:
    store: Store
    service_account: tuple[str, str]
    faults: Faults
    stats: Stats
    notifications: Notifications
    max_sync_changes: int | None = None
    max_find_items: int | None = None
    tokens: set[str] = field(default_factory=set)


class Handler(PromptHandler):
    server: EmulatorHttpServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("ews emulator: " + format, *args)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].endswith("/oauth2/v2.0/token"):
            self._token(body)
        elif self.path.split("?")[0].lower() == EWS_PATH.lower():
            self._ews(body)
        else:
            self._send(404, b"Not found", "text/plain")

    def _send(self, status: int, payload: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(payload)

    def _token(self, body: bytes) -> None:
        state = self.server.state
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_secret") != (state.service_account[1])
        ):
            self._send(401, json.dumps({"error": "invalid_client"}).encode(), "application/json")
            return
        token = secrets.token_urlsafe(24)
        state.tokens.add(token)
        answer = {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        self._send(200, json.dumps(answer).encode(), "application/json")

    def _principal(self) -> tuple[str, bool] | None:
        """(account, is the service account) from the Authorization header."""
        state = self.server.state
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value in state.tokens:
            return state.service_account[0].lower(), True
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        user = user.lower()
        if (user, password) == (state.service_account[0].lower(), state.service_account[1]):
            return user, True
        mailbox = state.store.mailbox(user)
        if mailbox is not None and mailbox.password == password:
            return user, False
        return None

    def _ews(self, body: bytes) -> None:
        reply = self._answer(body)
        if isinstance(reply, StreamReply):
            self._stream(body, reply)
            return
        soap = reply is not None and reply.content_type.startswith("text/xml")
        for observer in tuple(_observers):
            observer(body, reply.payload if soap else None)  # type: ignore[union-attr]
        if reply is None:
            self.close_connection = True
            self.connection.close()
            return
        self._send(reply.status, reply.payload, reply.content_type, **dict(reply.headers))

    def _stream(self, body: bytes, reply: StreamReply) -> None:
        """Send each envelope as one chunk as soon as it is due; a client that goes away
        ends the stream (and frees its subscriptions for another connection)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        answers = streaming.answers(reply.stream, self.server.state.notifications.clock)
        try:
            for answer in answers:
                payload = envelope(answer, reply.api_version)
                for observer in tuple(_observers):
                    observer(body, payload)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
                self.wfile.flush()
            if reply.stream.hub.closed:
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            answers.close()

    def _routing(self) -> Routing:
        cookie = self.headers.get("X-BackEndOverrideCookie")
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
        except CookieError:
            jar = SimpleCookie()
        if streaming.COOKIE in jar:
            cookie = jar[streaming.COOKIE].value
        anchor = self.headers.get("X-AnchorMailbox")
        return Routing(
            anchor=anchor.strip().lower() if anchor else None,
            prefer_affinity=self.headers.get("X-PreferServerAffinity", "").lower() == "true",
            cookie=cookie,
        )

    def _answer(self, body: bytes) -> Reply | StreamReply | None:
        """The reply to one SOAP request; ``None`` when a fault resets the connection."""
        principal = self._principal()
        if principal is None:
            return Reply(
                401,
                b"Unauthorized",
                "text/plain",
                (("WWW_Authenticate", 'Basic realm="msext-sandbox"'),),
            )
        try:
            root = ET.fromstring(body)
        except ET.ParseError as problem:
            return _fault(
                SoapFaultError("ErrorSchemaValidation", f"The request is not XML: {problem}"), None
            )
        header = root.find(f"{{{SOAP}}}Header")
        api_version = None
        if header is not None and header.find(t("RequestServerVersion")) is not None:
            api_version = header.find(t("RequestServerVersion")).get("Version")  # type: ignore[union-attr]
        request = next(iter(root.find(f"{{{SOAP}}}Body") or []), None)
        operation = local(request.tag) if request is not None else "(empty)"
        try:
            context = self._context(principal, header)
            self.server.state.stats.count(operation, context.target)
            injected = self.server.state.faults.draw(operation)
            if injected is not None and injected.kind is not FaultKind.SLOW:
                return _injected(injected, operation, api_version)
            if injected is not None:
                time.sleep(injected.delay_ms / 1000)
            if operation == "GetStreamingEvents" and request is not None:
                opened = streaming.open_stream(context, request)
                if isinstance(opened, Stream):
                    return StreamReply(opened, api_version)
                return Reply(200, envelope(opened, api_version))
            handle = OPERATIONS.get(operation) or streaming.OPERATIONS.get(operation)
            if handle is None or request is None:
                raise SoapFaultError(
                    "ErrorInvalidOperation",
                    f"The msext EWS emulator does not implement the operation {operation}",
                )
            answer = handle(context, request)
        except SoapFaultError as failure:
            return _fault(failure, api_version)
        except UnsupportedError as missing:
            text = f"The msext EWS emulator does not implement {missing}"
            return _fault(SoapFaultError("ErrorInvalidOperation", text), api_version)
        except Exception:
            log.exception("ews emulator failed on %s", operation)
            return _fault(
                SoapFaultError("ErrorInternalServerError", "Internal server error."), api_version
            )
        return Reply(200, envelope(answer, api_version), headers=tuple(context.reply_headers))

    def _context(self, principal: tuple[str, bool], header: ET.Element | None) -> Context:
        state = self.server.state
        account, is_service = principal
        target = account
        impersonation = header.find(t("ExchangeImpersonation")) if header is not None else None
        if impersonation is not None:
            sid = impersonation.find(t("ConnectingSID"))
            wanted = next((child.text for child in sid or [] if child.text), None)
            target = (wanted or "").strip().lower()
            mailbox = state.store.mailbox(target)
            if mailbox is None:
                raise SoapFaultError(
                    "ErrorNonExistentMailbox", f"No mailbox with SMTP address {target}."
                )
            if target != account and not (is_service and mailbox.granted):
                raise SoapFaultError(
                    "ErrorImpersonateUserDenied",
                    "The account does not have permission to impersonate the requested user.",
                )
        return Context(
            state.store,
            account,
            is_service,
            target,
            state.max_sync_changes,
            state.max_find_items,
            state.notifications,
            self._routing(),
        )


def _injected(injected: Fault, operation: str, api_version: str | None) -> Reply | None:
    """The reply a switched-on fault gives instead of the operation's."""
    match injected.kind:
        case FaultKind.RESET:
            return None
        case FaultKind.HTTP500:
            page = b"<html><body>Server Error in '/EWS' Application.</body></html>"
            return Reply(500, page, "text/html")
        case FaultKind.BUSY:
            return _fault(busy(injected.back_off_ms), api_version)
        case FaultKind.CONNECTION_COUNT:
            return _fault(
                SoapFaultError("ErrorExceededConnectionCount", "Too many connections."),
                api_version,
            )
        case FaultKind.EXPIRED_SYNC_STATE:
            failure = EwsError("ErrorInvalidSyncStateData", "Synchronization state is invalid.")
            answer = response(operation, [sync_error(failure)])
            return Reply(200, envelope(answer, api_version))
    raise AssertionError(f"unhandled fault {injected.kind}")


def _fault(failure: SoapFaultError, api_version: str | None) -> Reply:
    payload = ET.Element(f"{{{SOAP}}}Envelope")
    ET.SubElement(payload, f"{{{SOAP}}}Body").append(fault(failure))
    return Reply(500, ET.tostring(payload, encoding="utf-8", xml_declaration=True))


class EmulatorHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        super().__init__(address, Handler)
        self.state = state

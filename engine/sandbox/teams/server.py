"""The HTTP side of the Workflows peer: one URL per webhook, as Power Automate gives them
(``.../workflows/<id>/triggers/manual/paths/invoke?api-version=1&sig=<signature>``).

A valid post answers 202 with no body, as the real trigger does; an invalid one 400 with
an ``error`` naming what is wrong (the real trigger accepts it and the workflow's run fails
where nobody sees it; the peer tells, so that a test sees it). A webhook takes about 4 posts
a second; past that it answers 429 with a Retry-After.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections import defaultdict, deque
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from engine.sandbox.http import PromptHandler, send_json
from engine.sandbox.teams.cards import MAX_PAYLOAD_BYTES, InvalidPostError, check_payload
from engine.sandbox.teams.store import WorkflowsStore

log = logging.getLogger(__name__)

PATH = re.compile(
    r"^/powerautomate/automations/direct/workflows/(?P<id>[0-9a-f]{32})"
    r"/triggers/manual/paths/invoke$"
)
POSTS_PER_SECOND = 4
RATE_WINDOW_SECONDS = 0.9
"""The window the rate is counted in: a little under a second, so that a client pacing at
exactly 4 a second is not refused for up to 100 ms of jitter in its posts' arrival."""
THROTTLED_RETRY_AFTER = "1"


class Handler(PromptHandler):
    server: WorkflowsHttpServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("workflows %s", format % args)

    def do_GET(self) -> None:
        self._error(405, "MethodNotAllowed", "the webhook takes POST requests only")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        match = PATH.match(url.path)
        store = self.server.store
        webhook = store.webhook(match["id"]) if match else None
        if webhook is None:
            self._error(404, "WorkflowNotFound", "no workflow answers at this URL")
            return
        if parse_qs(url.query).get("sig") != [webhook.signature]:
            self._error(401, "DirectApiAuthorizationRequired", "the signature is not valid")
            return
        fault = store.draw_fault(webhook.id)
        if fault is not None:
            headers = {"Retry_After": fault.retry_after} if fault.retry_after else {}
            self._error(
                fault.status, "Fault", f"answer {fault.status} asked of this webhook", **headers
            )
            return
        if not self.server.admit(webhook.id):
            self._error(
                429,
                "WorkflowTriggerIsThrottled",
                f"more than {POSTS_PER_SECOND} posts a second",
                Retry_After=THROTTLED_RETRY_AFTER,
            )
            return
        try:
            payload = self._payload(raw)
            check_payload(payload)
        except InvalidPostError as problem:
            self._error(400, "InvalidRequestContent", str(problem))
            return
        store.receive(webhook.id, payload)
        time.sleep(self.server.take_stall(webhook.id))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _payload(self, raw: bytes) -> object:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise InvalidPostError(f"Content-Type must be application/json, not {content_type!r}")
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise InvalidPostError(f"the message is {len(raw):,} bytes; Teams takes at most 28 KB")
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidPostError(f"the body is not JSON ({error})") from None

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        send_json(self, status, {"error": {"code": code, "message": message}}, **headers)


class WorkflowsHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: WorkflowsStore) -> None:
        super().__init__(address, Handler)
        self.store = store
        self._posts: defaultdict[str, deque[float]] = defaultdict(deque)
        self._stalls: dict[str, float] = {}
        self._lock = threading.Lock()
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that went away mid-request (killed, timed out) is no error of the peer."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("workflows client %s went away", client_address)
            return
        super().handle_error(request, client_address)

    def stall_next(self, webhook_id: str, seconds: float) -> None:
        with self._lock:
            self._stalls[webhook_id] = seconds

    def take_stall(self, webhook_id: str) -> float:
        with self._lock:
            return self._stalls.pop(webhook_id, 0.0)

    def admit(self, webhook_id: str) -> bool:
        """Whether a post fits the webhook's rate; counted when it does."""
        now = time.monotonic()
        with self._lock:
            posts = self._posts[webhook_id]
            while posts and posts[0] <= now - RATE_WINDOW_SECONDS:
                posts.popleft()
            if len(posts) >= POSTS_PER_SECOND:
                return False
            posts.append(now)
            return True

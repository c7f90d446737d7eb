"""Microsoft Graph over httpx: the app registration's token, requests that wait out 429,
JSON batches of 20, and Graph's errors as errors that say what to do.

One client serves every mailbox of a connection (``httpx.Client`` is thread-safe). A
throttled call backs off (at least its ``Retry-After``) up to the General tab's timeout;
beyond that the mailbox is deferred to the next run (:class:`ThrottledError`), as with EWS.
Requests for one mailbox are made by one worker at a time, so Graph's limit of four
concurrent requests per mailbox holds by construction. Every request ends by its deadline
and reads at most the size cap; the token and the secret go only over https (or to this
machine), and links Graph returns are followed only to the configured Graph URL's origin.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx

from engine.exchange.mailbox.base import (
    AccessPolicyError,
    MailboxError,
    MailboxNotFoundError,
    MissingPermissionError,
    SyncStateExpiredError,
    ThrottledError,
)
from engine.graph.assertion import ASSERTION_TYPE, client_assertion, is_certificate
from engine.net import backoff
from engine.net.bounded_httpx import Answer, BoundedClient
from engine.net.limits import HttpLimitError, HttpLimits
from engine.net.origins import ForeignLinkError, require_encrypted, require_same_origin

BATCH_SIZE = 20
"""Graph's limit of requests in one JSON batch."""
_TOKEN_MARGIN_SECONDS = 300
_TRANSPORT_ATTEMPTS = 3
_THROTTLED = frozenset({429, 503})
_TOKEN_HINTS = {
    "AADSTS7000215": "check the client secret",
    "AADSTS700016": "check the client id of the app registration",
    "AADSTS90002": "check the tenant id",
    "AADSTS7000222": "the client secret has expired: create a new one",
    "AADSTS700027": "upload this certificate to the app registration (Certificates & secrets)",
    "AADSTS700024": "the certificate's assertion is outside its valid time: check the clock",
}


def user_path(address: str) -> str:
    return "/users/" + quote(address, safe="@.")


@dataclass(frozen=True, slots=True)
class GraphRequest:
    method: str
    url: str
    """Relative to Graph's base URL (``/users/...``), or absolute (a delta link)."""
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    body: Any
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> tuple[str, str]:
        """Graph's (code, message) of a failed request."""
        details = self.body.get("error") if isinstance(self.body, dict) else None
        if not isinstance(details, dict):
            return str(self.status), ""
        return str(details.get("code", self.status)), str(details.get("message", ""))

    @property
    def retry_after(self) -> str | None:
        return {key.lower(): item for key, item in self.headers.items()}.get("retry-after")


def raise_for(response: GraphResponse, address: str, permission: str) -> NoReturn:
    """A failed answer as the error that tells the administrator what to fix."""
    code, message = response.error
    if response.status == 401:
        raise MailboxError(
            "Microsoft Graph refused the app registration's token: check its tenant id, client"
            " id and secret on the General tab"
        )
    if response.status == 403 and "AccessPolicy" in message:
        raise AccessPolicyError(
            f"the application access policy does not include {address}: add the mailbox to"
            " the group the policy (or the RBAC for Applications scope) is limited to (R14)"
        )
    if response.status == 403:
        raise MissingPermissionError(
            f"the app registration may not use {address}: grant it the application permission"
            f" {permission} with admin consent",
            permission,
        )
    if response.status == 404 and code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"):
        raise MailboxNotFoundError(
            f"Microsoft 365 has no mailbox {address}: correct the mailbox address on the"
            " Resources tab"
        )
    if response.status == 410:
        raise SyncStateExpiredError("the server no longer knows this sync state")
    raise MailboxError(
        f"Microsoft Graph refused a request for {address}: {response.status} {code} {message}"
    )


class GraphClient:
    """Signs in as the app registration (client credentials) and sends Graph requests."""

    def __init__(
        self,
        base_url: str,
        token_url: str,
        client_id: str,
        secret: str,
        limits: HttpLimits,
        connections: int = 8,
        settings_place: str = "the General tab",
    ) -> None:
        """``settings_place`` says where the administrator corrects a refused sign-in."""
        self.settings_place = settings_place
        self.base_url = require_encrypted(base_url.rstrip("/"), "the Graph URL")
        self.token_url = require_encrypted(token_url, "the token URL")
        self.max_wait = limits.deadline_seconds
        self.connections = connections
        self._client_id = client_id
        self._secret = secret
        self._http = BoundedClient(limits, connections=connections)
        self._token = ""
        self._token_expires = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    # -- the token ---------------------------------------------------------------------

    def token(self) -> str:
        with self._lock:
            if self._token and time.monotonic() < self._token_expires:
                return self._token
            form = self._token_form()
            response = self._transport(
                lambda: self._http.request("POST", self.token_url, data=form), "the token endpoint"
            )
            answer = _json(response)
            if response.status_code != 200 or "access_token" not in answer:
                raise MailboxError(_token_refusal(answer, self.settings_place))
            self._token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in", 3599))
            self._token_expires = time.monotonic() + max(60.0, lifetime - _TOKEN_MARGIN_SECONDS)
            return self._token

    def _token_form(self) -> dict[str, str]:
        """Client credentials: the client secret, or an assertion signed with the
        certificate the secret reference names (made fresh for each token)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "scope": _scope(self.base_url),
        }
        if not is_certificate(self._secret):
            return form | {"client_secret": self._secret}
        assertion = client_assertion(self._secret, self._client_id, self.token_url, time.time())
        return form | {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

    def _forget_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = ""

    # -- requests ----------------------------------------------------------------------

    def send(self, request: GraphRequest, address: str) -> GraphResponse:
        """One request; throttling is waited out, an expired token renewed once."""
        deadline = time.monotonic() + self.max_wait
        renewed = False
        attempt = 0
        while True:
            token = self.token()
            response = self._send_once(request, token, address)
            if response.status in _THROTTLED:
                _wait([response.retry_after], attempt, deadline, address)
                attempt += 1
                continue
            if response.status == 401 and not renewed:
                self._forget_token(token)
                renewed = True
                continue
            return response

    def call(self, request: GraphRequest, address: str, permission: str) -> Any:
        """The JSON answer of a request that must succeed."""
        response = self.send(request, address)
        if not response.ok:
            raise_for(response, address, permission)
        return response.body

    def batch(
        self, requests: Sequence[GraphRequest], address: str, permission: str
    ) -> list[GraphResponse]:
        """Requests in JSON batches of 20, answers in order; throttled ones go again once
        their ``Retry-After`` has passed."""
        answers: dict[int, GraphResponse] = {}
        pending = list(range(len(requests)))
        deadline = time.monotonic() + self.max_wait
        attempt = 0
        while pending:
            for start in range(0, len(pending), BATCH_SIZE):
                chunk = pending[start : start + BATCH_SIZE]
                payload = {"requests": [_batch_entry(index, requests[index]) for index in chunk]}
                outer = self.call(GraphRequest("POST", "/$batch", payload), address, permission)
                for answer in outer.get("responses", []):
                    answers[int(answer["id"])] = GraphResponse(
                        int(answer["status"]), answer.get("body"), answer.get("headers") or {}
                    )
            for index in pending:
                answers.setdefault(index, UNANSWERED)
            throttled = [index for index in pending if answers[index].status in _THROTTLED]
            if throttled:
                hints = [answers[index].retry_after for index in throttled]
                _wait(hints, attempt, deadline, address)
                attempt += 1
            pending = throttled
        return [answers[index] for index in range(len(requests))]

    def relative(self, link: str) -> str:
        """A link Graph returned, relative to the API's root when it lies below it. A sync
        state keeps links in this form, so they outlive a new host or port (the demo's
        emulator listens on another port in each process). A link to another origin is
        refused, never kept."""
        self._own(link, "a link Microsoft Graph returned")
        root = urlsplit(self.base_url).path
        parts = urlsplit(link)
        if not parts.path.startswith(root + "/"):
            return link
        return parts.path.removeprefix(root) + (f"?{parts.query}" if parts.query else "")

    def _own(self, link: str, what: str) -> str:
        """``link`` if it lies at the Graph URL's origin; the token goes nowhere else."""
        try:
            return require_same_origin(link, self.base_url, what)
        except ForeignLinkError as error:
            raise MailboxError(str(error)) from None

    def _send_once(self, request: GraphRequest, token: str, address: str) -> GraphResponse:
        absolute = "://" in request.url
        url = self._own(request.url, "a delta link") if absolute else self.base_url + request.url
        headers = {"Authorization": f"Bearer {token}", **request.headers}
        response = self._transport(
            lambda: self._http.request(request.method, url, json=request.body, headers=headers),
            address,
        )
        return GraphResponse(response.status_code, _json(response), response.headers)

    @staticmethod
    def _transport(send: Any, address: str) -> Answer:
        """Retry a dropped connection a few times (a broken bound is not retried). A write
        retried after a reset may land twice: reconcile removes the extra stamped copy
        (invariant 1)."""
        for attempt in range(_TRANSPORT_ATTEMPTS):
            try:
                return send()
            except HttpLimitError as error:
                raise MailboxError(f"Microsoft Graph failed for {address}: {error}") from None
            except httpx.TransportError as error:
                if attempt == _TRANSPORT_ATTEMPTS - 1:
                    raise MailboxError(
                        f"Microsoft Graph did not answer for {address}: {error}"
                    ) from None
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


UNANSWERED = GraphResponse(
    502, {"error": {"code": "NoAnswer", "message": "the batch did not answer this request"}}, {}
)
"""What stands for a request a batch left out of its answers."""


def _wait(hints: Sequence[str | None], attempt: int, deadline: float, address: str) -> None:
    """Back off before retry ``attempt``, the longest any ``Retry-After`` asks; a wait
    beyond the deadline defers the mailbox instead."""
    seconds = max(backoff.pause(hint, attempt) for hint in hints)
    if time.monotonic() + seconds > deadline:
        asked = max(backoff.retry_after_seconds(hint) or 0.0 for hint in hints)
        raise ThrottledError(
            f"Microsoft Graph asked msext to back off for {asked or seconds:.0f} s; {address}"
            " is retried at the next run"
        )
    time.sleep(seconds)


def _batch_entry(index: int, request: GraphRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": str(index), "method": request.method, "url": request.url}
    headers = dict(request.headers)
    if request.body is not None:
        entry["body"] = request.body
        headers["Content-Type"] = "application/json"
    if headers:
        entry["headers"] = headers
    return entry


def _scope(base_url: str) -> str:
    """``https://graph.microsoft.com/.default`` for Graph at any version path."""
    scheme, _, rest = base_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/.default"


def _json(response: Answer) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _token_refusal(answer: Any, place: str) -> str:
    """Entra ID's refusal by its AADSTS code (its description may quote what was sent)."""
    description = str(answer.get("error_description", "")) if isinstance(answer, dict) else ""
    code = description.split(":", 1)[0] if description.startswith("AADSTS") else ""
    hint = _TOKEN_HINTS.get(code, "check the tenant id, client id and secret")
    label = f" ({code})" if code else ""
    return f"Microsoft Entra ID refused the app registration{label}: {hint} on {place}"

"""What the handler threads share: the store, the app registration, tokens, switches, counters."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from engine.sandbox.ews.server import Stats
from engine.sandbox.ews.store import Store
from engine.sandbox.graph.tenant import Tenant

TOKEN_LIFETIME = 3599


@dataclass(frozen=True)
class App:
    """The app registration the token endpoint knows."""

    tenant_id: str
    client_id: str
    client_secret: str
    certificate: str | None = None
    """The PEM certificate uploaded to the app registration, for client assertions."""


@dataclass
class PeerState:
    store: Store
    app: App
    roles: set[str]
    stats: Stats = field(default_factory=Stats)
    tenant: Tenant = field(default_factory=Tenant)
    """The directory's users and groups (apart from the mailboxes)."""
    url: str = ""
    """Graph's base URL (``http://host:port/v1.0``), for next and delta links."""
    tokens: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)
    throttle_next: int = 0
    throttle_after: int = 0
    retry_after: int = 1
    expire_next: int = 0
    fail_next: int = 0
    fail_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_token(self) -> str:
        """A bearer token carrying the roles granted now, as Entra ID's ``roles`` claim does."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (frozenset(self.roles), time.monotonic() + TOKEN_LIFETIME)
        return token

    def token_roles(self, token: str) -> frozenset[str] | None:
        """The token's roles; None for a token never issued or expired."""
        with self.lock:
            found = self.tokens.get(token)
        if found is None or time.monotonic() >= found[1]:
            return None
        return found[0]

    def draw_throttle(self) -> int | None:
        """The Retry-After seconds if this routed request is to be throttled."""
        with self.lock:
            if not self.throttle_next:
                return None
            if self.throttle_after:
                self.throttle_after -= 1
                return None
            self.throttle_next -= 1
            return self.retry_after

    def draw_failure(self) -> bool:
        """Whether this routed request is to fail with 500 (a broken page, say)."""
        with self.lock:
            if not self.fail_next:
                return False
            if self.fail_after:
                self.fail_after -= 1
                return False
            self.fail_next -= 1
            return True

    def draw_expiry(self) -> bool:
        """Whether this request's delta token is to be answered as expired."""
        with self.lock:
            if self.expire_next:
                self.expire_next -= 1
                return True
            return False

"""What the handler threads share: the store, the app registration, tokens, switches, counters."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from engine.sandbox.ews.server import Stats
from engine.sandbox.ews.store import Store
from engine.sandbox.graph.mailbox_limits import MailboxLimits
from engine.sandbox.graph.subscriptions import Subscriptions
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
class Countdown:
    """A fault switched on for the next ``count`` requests, once ``after`` more have passed
    (the caller holds the state's lock)."""

    count: int = 0
    after: int = 0

    def draw(self) -> bool:
        """Whether this request gets the fault."""
        if not self.count:
            return False
        if self.after:
            self.after -= 1
            return False
        self.count -= 1
        return True


@dataclass
class PeerState:
    store: Store
    app: App
    roles: set[str]
    subscriptions: Subscriptions
    """Change notifications: who listens to which mailbox's events or contacts."""
    stats: Stats = field(default_factory=Stats)
    tenant: Tenant = field(default_factory=Tenant)
    """The directory's users and groups (apart from the mailboxes)."""
    url: str = ""
    """Graph's base URL (``http://host:port/v1.0``), for next and delta links."""
    tokens: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)
    throttle: Countdown = field(default_factory=Countdown)
    retry_after: int = 1
    expire_next: int = 0
    failure: Countdown = field(default_factory=Countdown)
    mailbox_limits: MailboxLimits = field(default_factory=MailboxLimits)
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
            return self.retry_after if self.throttle.draw() else None

    def draw_failure(self) -> bool:
        """Whether this routed request is to fail with 500 (a broken page, say)."""
        with self.lock:
            return self.failure.draw()

    def draw_expiry(self) -> bool:
        """Whether this request's delta token is to be answered as expired."""
        with self.lock:
            if self.expire_next:
                self.expire_next -= 1
                return True
            return False

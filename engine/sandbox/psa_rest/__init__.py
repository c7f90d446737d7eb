"""A loopback peer of the PSA's REST API, serving an embedded PSA's records.

``msext sandbox`` serves it beside the EWS emulator, and the engine's tests sync through
it with httpx exactly as against a real PSA: zone discovery, the three authentication
headers, queries with paging, writes of appointments, and the API's limits (429).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from engine.psa.embedded import EmbeddedPsa
from engine.sandbox.http import LoopbackPeer
from engine.sandbox.psa_rest.server import ApiUser, PeerHttpServer, PeerState

DEMO_API_USER = "msext-api@contoso.example"
DEMO_INTEGRATION_CODE = "MSEXTSANDBOXINTEGRATIONCODE"


class PsaRestEmulator(LoopbackPeer):
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(
        self,
        psa_db: Path | str,
        username: str = DEMO_API_USER,
        secret: str | None = None,
        integration_code: str = DEMO_INTEGRATION_CODE,
        hourly_limit: int = 10_000,
    ) -> None:
        self.user = ApiUser(username, secret or secrets.token_urlsafe(18), integration_code)
        self.state = PeerState(EmbeddedPsa(psa_db), self.user, hourly_limit=hourly_limit)
        self.url = ""

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve; returns the base URL to give zone discovery."""
        server = PeerHttpServer((host, port), self.state)
        self.serve(server, "psa-rest-peer")
        self.url = f"{server.base_url}/atservicesrest/"
        return self.url

    def release(self) -> None:
        self.state.psa.close()

    def hide(self, *entities: str) -> None:
        """The API user loses its rights to these entities (none: gets them back): their
        queries answer with no items, as a PSA does for what a security level hides."""
        with self.state.lock:
            self.state.hidden = frozenset(entities)

    def throttle(self, requests: int, retry_after: float = 0.2, after: int = 0) -> None:
        """Answer ``requests`` requests with 429 and a Retry-After, once ``after`` more
        requests have been answered normally."""
        with self.state.lock:
            self.state.throttle_next = requests
            self.state.throttle_after = after
            self.state.retry_after = retry_after

    def vanish(self, writes: int = 1) -> None:
        """The next ``writes`` updates or deletes find their record already deleted in the
        PSA, as when someone deletes it while a run is under way."""
        with self.state.lock:
            self.state.vanish_next = writes

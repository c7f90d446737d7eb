"""A loopback Microsoft Graph emulator: a second protocol front over the EWS emulator's store.

As in Exchange Online, where EWS and Graph see the same mailboxes, it serves the same
:class:`~engine.sandbox.ews.store.Store` the :class:`~engine.sandbox.ews.EwsEmulator` owns:
what Graph writes is stored as the XML exchangelib writes (so EWS sync sees it) and Graph's
delta rounds read the store's change log (so they see EWS's writes). It issues client
credentials tokens, enforces the application access policy (the store's ``granted`` flag)
and application permissions, pages delta rounds, batches, and can be told to throttle, to
fail requests or to expire delta tokens. What it does not implement it answers with 501
naming it.

Beside the mailboxes it serves the tenant's directory (:attr:`GraphEmulator.tenant`: Entra
ID users and groups, what AD Sync reads); without a store it serves the directory alone.
Subscriptions to a mailbox's events or contacts post change notifications to an https URL
(:mod:`engine.sandbox.graph.subscriptions`).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.sandbox.ews.server import Stats
from engine.sandbox.ews.store import Store
from engine.sandbox.graph.server import VERSION, GraphHttpServer
from engine.sandbox.graph.state import App, Countdown, PeerState
from engine.sandbox.graph.subscriptions import Subscriptions
from engine.sandbox.graph.tenant import Tenant
from engine.sandbox.http import LoopbackPeer
from engine.settings.model import GRAPH_PERMISSIONS

__all__ = ["GraphEmulator"]


class GraphEmulator(LoopbackPeer):
    """Start with :meth:`start`, stop with :meth:`stop`; a store given stays its owner's."""

    def __init__(
        self,
        store: Store | None,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        roles: Iterable[str] = GRAPH_PERMISSIONS,
        certificate: str | None = None,
        notification_ca: str | None = None,
    ) -> None:
        """``notification_ca``: a PEM file of the CA that signed the notification receivers'
        certificates (a test's or the demo's own); else the system's trusted roots."""
        app = App(tenant_id, client_id, client_secret, certificate)
        self._own_store = Store(":memory:") if store is None else None
        served = store or self._own_store
        assert served is not None
        subscriptions = Subscriptions(tenant_id, served, notification_ca)
        self.state = PeerState(served, app, set(roles), subscriptions)
        self.url = ""
        self.token_url = ""

    @property
    def stats(self) -> Stats:
        return self.state.stats

    @property
    def tenant(self) -> Tenant:
        """The directory's users and groups: seed and change them here."""
        return self.state.tenant

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve; returns Graph's base URL (``http://host:port/v1.0``)."""
        server = GraphHttpServer((host, port), self.state)
        self.serve(server, "graph-emulator")
        origin = f"http://{host}:{server.server_address[1]}"
        self.url = self.state.url = origin + VERSION
        self.token_url = f"{origin}/{self.state.app.tenant_id}/oauth2/v2.0/token"
        return self.url

    @property
    def subscriptions(self) -> Subscriptions:
        """Change notification subscriptions: look at them, or :meth:`Subscriptions.drop`
        one as Graph removes one."""
        return self.state.subscriptions

    def release(self) -> None:
        """Close the store only if it is the emulator's own (a given one stays its owner's)."""
        self.state.subscriptions.close()
        if self._own_store is not None:
            self._own_store.close()

    def throttle(self, count: int, retry_after: int = 1, after: int = 0) -> None:
        """Answer the next ``count`` routed requests (each of a batch's counts) with 429,
        once ``after`` more have been answered normally."""
        with self.state.lock:
            self.state.throttle = Countdown(count, after)
            self.state.retry_after = retry_after

    def limit_mailboxes(self, requests: int, seconds: float) -> None:
        """Let each mailbox take ``requests`` requests in any ``seconds`` (Outlook's
        10,000 in ten minutes by default); beyond, 429 with the Retry-After until one
        leaves the window."""
        self.state.mailbox_limits.limit(requests, seconds)

    def hold_mailbox(self, address: str) -> None:
        """Keep the requests for a mailbox in flight, unanswered, until :meth:`release_mailbox`
        (to see what Graph answers a fifth concurrent one)."""
        self.state.mailbox_limits.hold(address)

    def release_mailbox(self, address: str) -> None:
        self.state.mailbox_limits.release(address)

    def wait_in_flight(self, address: str, count: int) -> bool:
        """Whether ``count`` requests for the mailbox come to be in flight (10 s at most)."""
        return self.state.mailbox_limits.wait_in_flight(address, count)

    def fail(self, count: int, after: int = 0) -> None:
        """Answer the next ``count`` routed requests with 500, once ``after`` more have been
        answered normally (a page of a long listing that breaks, say)."""
        with self.state.lock:
            self.state.failure = Countdown(count, after)

    def expire_delta(self, count: int = 1) -> None:
        """Answer the next ``count`` requests carrying a ``$deltatoken`` with 410."""
        with self.state.lock:
            self.state.expire_next = count

    def grant_role(self, name: str) -> None:
        """An application permission; tokens issued from now on carry it."""
        with self.state.lock:
            self.state.roles.add(name)

    def revoke_role(self, name: str) -> None:
        with self.state.lock:
            self.state.roles.discard(name)

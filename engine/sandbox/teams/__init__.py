"""A loopback peer of Power Automate Workflows webhooks ("post to a channel when a webhook
request is received"), the way Teams channels take notifications since Microsoft retired
the Office 365 connectors.

Each webhook validates its posts' Adaptive Cards against the official schema, answers 404,
410 or 429 when a test (or the demo) asks it to, and keeps what it accepted, so that tests
and the demo's console can read the cards a channel received.
"""

from __future__ import annotations

from pathlib import Path

from engine.sandbox.http import LoopbackPeer
from engine.sandbox.teams.server import WorkflowsHttpServer
from engine.sandbox.teams.store import Received, Webhook, WorkflowsStore

__all__ = ["Received", "Webhook", "WorkflowsPeer"]


class WorkflowsPeer(LoopbackPeer):
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(self, db_path: Path | str = ":memory:") -> None:
        self.store = WorkflowsStore(db_path)
        self.base_url = ""
        self._server: WorkflowsHttpServer | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = WorkflowsHttpServer((host, port), self.store)
        self._server = server
        self.serve(server, "workflows-peer")
        self.base_url = server.base_url
        return self.base_url

    def release(self) -> None:
        self.store.close()

    def add_webhook(self, name: str, webhook_id: str = "", signature: str = "") -> Webhook:
        """A new workflow posting to channel ``name`` (or the one of this id and
        signature, made so if it is new)."""
        return self.store.add_webhook(name, webhook_id, signature)

    def url(self, webhook: Webhook) -> str:
        """The URL Power Automate shows for the webhook; its signature is the secret."""
        return (
            f"{self.base_url}/powerautomate/automations/direct/workflows/{webhook.id}"
            f"/triggers/manual/paths/invoke?api-version=1&sig={webhook.signature}"
        )

    def answer(
        self, webhook: Webhook, status: int, times: int | None = 1, retry_after: str | None = None
    ) -> None:
        """Answer the webhook's next ``times`` posts (every one: ``None``) with ``status``
        (404: the channel is gone, 410: the workflow was removed, 429 with ``retry_after``:
        throttled, 5xx: an outage), after the answers asked before."""
        self.store.add_fault(webhook.id, status, times, retry_after)

    def stall(self, webhook: Webhook, seconds: float) -> None:
        """Accept the webhook's next valid post at once (it is received) but answer it only
        ``seconds`` later: a client killed meanwhile never learns that it was taken."""
        assert self._server is not None, "start the peer first"
        self._server.stall_next(webhook.id, seconds)

    def received(self, webhook: Webhook, last: int | None = None) -> list[Received]:
        return self.store.received(webhook.id, last)

"""A profile with Teams channels whose webhooks are a Workflows peer's, for delivery tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.paths import ProfilePaths
from engine.sandbox.teams import Webhook, WorkflowsPeer
from engine.settings.secrets import write_secret_file
from engine.settings.store import SettingsStore
from engine.teams.delivery import Delivery
from engine.teams.outbox import enqueue
from engine.teams.state import TeamsState


def card(text: str) -> dict:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]}


def texts(peer: WorkflowsPeer, hook: Webhook) -> list[str]:
    """The text of every card the webhook accepted, in order."""
    return [c["body"][0]["text"] for received in peer.received(hook) for c in received.cards]


@dataclass
class TeamsProfile:
    peer: WorkflowsPeer
    paths: ProfilePaths = field(default_factory=lambda: ProfilePaths.for_profile("teams"))
    hooks: dict[int, Webhook] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = SettingsStore(self.paths)
        self.paths.ensure()
        self.state = TeamsState(self.paths.teams_db)

    def channel(self, channel_id: int, name: str, url: str | None = None) -> Webhook:
        """An active channel posting to a new webhook of the peer (or to ``url``)."""
        hook = self.peer.add_webhook(name)
        self.hooks[channel_id] = hook
        secret = write_secret_file(self.paths, f"teams-{channel_id}", url or self.peer.url(hook))
        prefix = f"teams.channels.{channel_id}"
        self.store.set_value(f"{prefix}.name", name)
        self.store.set_value(f"{prefix}.webhook", secret)
        self.store.set_value(f"{prefix}.active", "true")
        return hook

    def active(self, channel_id: int) -> bool:
        return self.store.load().teams.channels[channel_id].active

    def enqueue(self, channel_id: int, *texts: str) -> None:
        for text in texts:
            assert enqueue(self.state, channel_id, card(text), text)

    def delivery(self) -> Delivery:
        return Delivery.for_profile(self.paths, self.state)

    def drain(self, delivery: Delivery, timeout: float = 20.0) -> None:
        """Deliver until nothing more is due (what is left waits on an inactive channel)."""
        deadline = time.monotonic() + timeout
        while (wait := delivery.deliver_due()) is not None:
            assert time.monotonic() < deadline, "the outbox did not drain in time"
            time.sleep(min(wait, 0.05))

"""The Channels tab's *Test*: a test card through the outbox to one channel, and what came
of it, told at once.

The card goes the way every card goes (the outbox, the pace, the log), so a test proves
what a real notification would meet. Whoever delivers the profile's outbox posts it: this
process when no daemon does (the delivery lock is free), else the daemon, watched here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.run_lock import SyncBusyError
from engine.settings.teams import TeamsChannel
from engine.teams.delivery import Delivery, delivery_lock
from engine.teams.state import OutboxItem, PostStatus, TeamsState

SETTLE_SECONDS = 60.0
"""How long a test waits for its card's first outcome."""
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class TrialResult:
    item: OutboxItem
    reason: str | None
    """The error log's line for the card, when its post failed."""

    @property
    def posted(self) -> bool:
        return self.item.status is PostStatus.SENT


def test_card(channel: TeamsChannel, now: datetime) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "msext test card", "weight": "Bolder", "size": "Medium"},
            {
                "type": "TextBlock",
                "text": f"Notifications for {channel.name} reach this channel.",
                "wrap": True,
            },
            {"type": "TextBlock", "text": f"{now:%Y-%m-%d %H:%M} UTC", "isSubtle": True},
        ],
    }


def send_test_card(
    paths: ProfilePaths, state: TeamsState, channel_id: int, channel: TeamsChannel
) -> TrialResult:
    """Queue a test card for an active channel and wait for its first outcome."""
    if not channel.active:
        raise UserError(
            f"channel {channel_id} ({channel.name}) is inactive: activate it first"
            f" (teams.channels.{channel_id}.active)"
        )
    item_id = state.enqueue(channel_id, test_card(channel, datetime.now(UTC)), None, time.time())
    assert item_id is not None, "a card without a key is always queued"
    lock = delivery_lock(paths)
    try:
        lock.acquire()
    except SyncBusyError:
        return _watch(state, item_id, None)
    delivery = Delivery.for_profile(paths, state)
    try:
        return _watch(state, item_id, delivery)
    finally:
        delivery.close()
        lock.release()


def _watch(state: TeamsState, item_id: int, delivery: Delivery | None) -> TrialResult:
    """Deliver (or let the daemon deliver) until the card is sent, dropped or failed once."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        if delivery is not None:
            delivery.deliver_due()
        item = state.item(item_id)
        assert item is not None
        failures = [entry for entry in state.errors(limit=20) if entry.outbox_id == item_id]
        if item.status is PostStatus.SENT or failures:
            return TrialResult(item, failures[0].reason if failures else None)
        if time.monotonic() >= deadline:
            return TrialResult(
                item, f"no outcome within {SETTLE_SECONDS:.0f} s; it waits in the outbox"
            )
        time.sleep(POLL_SECONDS)

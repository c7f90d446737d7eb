"""The durable outbox: a card enters it once, and delivery (``engine.teams.delivery``) posts
it to its channel's webhook from there, whatever crash or outage comes between.

Whoever produces a notification (a rule on a ticket event, a user's sync error) calls
:func:`enqueue` with a key naming that notification: the same key for the same channel is
queued once, so a producer that runs again after a crash, or sees the same event twice,
posts nothing twice.
"""

from __future__ import annotations

import time
from typing import Any

from engine.paths import ProfilePaths
from engine.teams.state import TeamsState

ADAPTIVE_CARD = "AdaptiveCard"


def enqueue(
    target: TeamsState | ProfilePaths,
    channel_id: int,
    card: dict[str, Any],
    dedup_key: str | None,
) -> bool:
    """Queue an Adaptive Card (the card itself, ``{"type": "AdaptiveCard", ...}``) for a
    channel; ``False`` when a card with this ``dedup_key`` was already queued or sent to it
    (``None`` never deduplicates)."""
    if card.get("type") != ADAPTIVE_CARD:
        raise ValueError(f"a Teams card is an {ADAPTIVE_CARD} object, not {card.get('type')!r}")
    if isinstance(target, TeamsState):
        return target.enqueue(channel_id, card, dedup_key, time.time()) is not None
    target.ensure()
    state = TeamsState(target.teams_db)
    try:
        return state.enqueue(channel_id, card, dedup_key, time.time()) is not None
    finally:
        state.close()

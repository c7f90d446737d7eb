"""The outbox: a card is queued once per channel and key, and kept across reopenings."""

from __future__ import annotations

import pytest

from engine.paths import ProfilePaths
from engine.teams.outbox import enqueue
from engine.teams.state import PostStatus, TeamsState

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Hi"}]}


def test_the_same_key_is_queued_once_per_channel() -> None:
    paths = ProfilePaths.for_profile("t")
    assert enqueue(paths, 1, CARD, "ticket:T2026.0001:created")
    assert not enqueue(paths, 1, CARD, "ticket:T2026.0001:created")
    assert enqueue(paths, 2, CARD, "ticket:T2026.0001:created")
    assert enqueue(paths, 1, CARD, None)
    assert enqueue(paths, 1, CARD, None)
    state = TeamsState(paths.teams_db)
    try:
        assert [(item.channel_id, item.status) for item in state.items()] == [
            (1, PostStatus.QUEUED),
            (2, PostStatus.QUEUED),
            (1, PostStatus.QUEUED),
            (1, PostStatus.QUEUED),
        ]
        assert state.items()[0].card == CARD
    finally:
        state.close()


def test_a_sent_card_is_not_queued_again(tmp_path) -> None:
    state = TeamsState(tmp_path / "teams.sqlite")
    assert enqueue(state, 1, CARD, "sync-error:7:2026-12-02")
    (item,) = state.heads()
    state.mark_sending(item.id, 99.0)
    state.mark_sent(item.id, 100.0)
    assert not enqueue(state, 1, CARD, "sync-error:7:2026-12-02")
    assert state.heads() == []
    assert state.sent_count(1, since=50.0) == 1


def test_only_adaptive_cards_are_queued(tmp_path) -> None:
    with pytest.raises(ValueError, match="AdaptiveCard"):
        enqueue(TeamsState(tmp_path / "teams.sqlite"), 1, {"type": "message"}, None)


def test_each_channel_posts_its_oldest_card_first(tmp_path) -> None:
    state = TeamsState(tmp_path / "teams.sqlite")
    for channel_id in (1, 2, 1, 2):
        enqueue(state, channel_id, CARD, None)
    assert [(item.id, item.channel_id) for item in state.heads()] == [(1, 1), (2, 2)]

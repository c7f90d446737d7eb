"""Delivery through the outbox to Workflows webhooks: order, pace, 429, back-off, 404/410
inactivation, and the error log."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from engine.sandbox.teams import WorkflowsPeer
from engine.teams import delivery as delivery_module
from engine.teams.delivery import POST_INTERVAL_SECONDS, delivery_lock, serve_outbox
from engine.teams.outbox import enqueue
from engine.teams.state import PostStatus
from tests.teams.delivery_harness import TeamsProfile, card, texts


@pytest.fixture
def teams() -> Iterator[TeamsProfile]:
    with WorkflowsPeer() as peer:
        profile = TeamsProfile(peer)
        yield profile
        profile.state.close()


def test_each_channel_receives_its_cards_in_order(teams: TeamsProfile) -> None:
    desk, alerts = teams.channel(1, "Service desk"), teams.channel(2, "Alerts")
    teams.enqueue(1, "d1", "d2", "d3")
    teams.enqueue(2, "a1", "a2")
    teams.enqueue(1, "d4")
    delivery = teams.delivery()
    teams.drain(delivery)
    assert texts(teams.peer, desk) == ["d1", "d2", "d3", "d4"]
    assert texts(teams.peer, alerts) == ["a1", "a2"]
    assert {item.status for item in teams.state.items()} == {PostStatus.SENT}
    assert teams.state.errors() == []
    assert teams.state.sent_count(1, since=0) == 4


def test_a_webhook_gets_at_most_four_posts_a_second(teams: TeamsProfile) -> None:
    """The peer throttles a fifth post within a second; delivery never provokes it."""
    desk = teams.channel(1, "Service desk")
    teams.enqueue(1, *(f"c{number}" for number in range(10)))
    teams.drain(teams.delivery())
    moments = [received.at for received in teams.peer.received(desk)]
    assert len(moments) == 10
    spans = [later - earlier for earlier, later in zip(moments, moments[4:], strict=False)]
    assert min(spans) >= 4 * POST_INTERVAL_SECONDS - 0.1
    assert teams.state.errors() == []


def test_a_429_waits_for_retry_after_and_keeps_the_order(teams: TeamsProfile) -> None:
    desk = teams.channel(1, "Service desk")
    teams.peer.answer(desk, 429, retry_after="1")
    teams.enqueue(1, "first", "second")
    teams.drain(teams.delivery())
    assert texts(teams.peer, desk) == ["first", "second"]
    (error,) = teams.state.errors()
    assert error.status == 429 and "throttled" in error.reason
    received = teams.peer.received(desk)
    assert received[0].at - error.at.timestamp() >= 1.0


def test_an_outage_is_retried_with_back_off_and_logged(teams: TeamsProfile) -> None:
    desk = teams.channel(1, "Service desk")
    teams.peer.answer(desk, 503, times=2)
    teams.enqueue(1, "after the outage")
    teams.drain(teams.delivery())
    assert texts(teams.peer, desk) == ["after the outage"]
    errors = teams.state.errors()
    assert [error.status for error in errors] == [503, 503]
    later, first = errors
    assert later.at.timestamp() - first.at.timestamp() >= 1.0
    assert "trying again" in first.reason


def test_no_answer_at_all_is_logged_and_retried_later(teams: TeamsProfile) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    teams.channel(1, "Service desk", url=f"http://127.0.0.1:{port}/workflows/x?sig=secret")
    teams.enqueue(1, "nobody listens")
    wait = teams.delivery().deliver_due()
    assert wait is not None and wait > 0.5
    (error,) = teams.state.errors()
    assert error.status is None and "no answer" in error.reason
    assert "secret" not in error.reason
    (item,) = teams.state.items()
    assert item.status is PostStatus.QUEUED


@pytest.mark.parametrize(("status", "words"), [(404, "not found"), (410, "removed")])
def test_a_gone_webhook_inactivates_its_channel_at_once(
    teams: TeamsProfile, status: int, words: str
) -> None:
    """The channel's cards wait; another channel's go on; activating it again posts them."""
    desk, alerts = teams.channel(1, "Service desk"), teams.channel(2, "Alerts")
    teams.peer.answer(desk, status, times=None)
    teams.enqueue(1, "d1", "d2")
    teams.enqueue(2, "a1")
    delivery = teams.delivery()
    teams.drain(delivery)
    assert not teams.active(1) and teams.active(2)
    assert texts(teams.peer, alerts) == ["a1"]
    (error,) = teams.state.errors()
    assert error.status == status and words in error.reason and "inactivated" in error.reason
    assert teams.state.pending_count(1) == 2
    teams.peer.store.clear_faults(desk.id)
    teams.store.set_value("teams.channels.1.active", "true")
    teams.drain(delivery)
    assert texts(teams.peer, desk) == ["d1", "d2"]


def test_a_refused_card_is_dropped_with_the_webhooks_reason(teams: TeamsProfile) -> None:
    desk = teams.channel(1, "Service desk")
    bad = card("bad") | {"body": [{"type": "TextBlock", "text": "x", "size": "huge"}]}
    assert enqueue(teams.state, 1, bad, None)
    teams.enqueue(1, "good")
    teams.drain(teams.delivery())
    assert texts(teams.peer, desk) == ["good"]
    (error,) = teams.state.errors()
    assert error.status == 400 and "'huge' is not one of" in error.reason
    assert [item.status for item in teams.state.items()] == [PostStatus.FAILED, PostStatus.SENT]


def test_a_card_of_a_deleted_channel_is_dropped_and_logged(teams: TeamsProfile) -> None:
    teams.channel(1, "Service desk")
    teams.enqueue(1, "orphan")
    teams.store.unset_value("teams.channels.1")
    teams.drain(teams.delivery())
    (error,) = teams.state.errors()
    assert "no longer exists" in error.reason


def test_a_crash_before_the_card_went_out_whole_posts_it_again(teams: TeamsProfile) -> None:
    desk = teams.channel(1, "Service desk")
    teams.enqueue(1, "cut short")
    (item,) = teams.state.heads()
    teams.state.mark_sending(item.id, 0.0)
    teams.drain(teams.delivery())
    assert texts(teams.peer, desk) == ["cut short"]
    (error,) = teams.state.errors()
    assert "before the webhook had it whole; it is posted again" in error.reason


def test_a_crash_after_the_card_went_out_whole_counts_it_as_posted(teams: TeamsProfile) -> None:
    """The webhook had it: posting it again could show it twice."""
    desk = teams.channel(1, "Service desk")
    teams.enqueue(1, "answer missed")
    (item,) = teams.state.heads()
    teams.state.mark_sending(item.id, 0.0)
    teams.state.mark_posted(item.id)
    teams.drain(teams.delivery())
    assert texts(teams.peer, desk) == []
    assert [entry.status for entry in teams.state.items()] == [PostStatus.SENT]
    (error,) = teams.state.errors()
    assert "counts as posted" in error.reason


def test_unreadable_settings_make_delivery_wait_not_stop(
    teams: TeamsProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged settings file is one logged line a while; delivery resumes once it is
    mended, and lets go of the profile's delivery lock when stopped."""
    desk = teams.channel(1, "Service desk")
    teams.enqueue(1, "after the repair")
    good = teams.store.path.read_text()
    teams.store.path.write_text("teams = [")
    monkeypatch.setattr(delivery_module, "UNREADABLE_SETTINGS_PAUSE_SECONDS", 0.2)
    stop = threading.Event()
    thread = threading.Thread(target=serve_outbox, args=(teams.paths, stop), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.is_alive() and texts(teams.peer, desk) == []
        teams.store.path.write_text(good)
        deadline = time.monotonic() + 10
        while texts(teams.peer, desk) == [] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert texts(teams.peer, desk) == ["after the repair"]
    delivery_lock(teams.paths).check()

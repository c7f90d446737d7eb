"""The daemon's mailbox watch as the administrator controls it (issue 21): on by default over
EWS, off by one setting (an Exchange whose throttling policy leaves no room for streaming
subscriptions), and then plainly reported as polling."""

from __future__ import annotations

import threading
import time

from engine.exchange.triggers import SyncRequest
from engine.exchange.watch import serve_mailbox_watch
from engine.profile import Profile
from tests.e2e.harness import Harness


def watch_for(harness: Harness, seconds: float) -> tuple[bool, str | None]:
    """Run the watch for up to ``seconds``; whether it returned by itself, and the mode
    it reported."""
    profile = Profile(harness.paths)
    requests: list[SyncRequest] = []
    stop = threading.Event()
    watching = threading.Thread(
        target=serve_mailbox_watch, args=(profile, requests.append, stop), daemon=True
    )
    watching.start()
    watching.join(timeout=seconds)
    returned = not watching.is_alive()
    report = profile.state.watch_report()
    stop.set()
    watching.join(timeout=30)
    profile.close()
    return returned, report.mode if report else None


def test_mailbox_notifications_turned_off_leave_the_interval_to_find_changes(
    harness: Harness,
) -> None:
    """R01, R04: with exchange.sync.mailbox_notifications off, the EWS watch subscribes
    nothing, says "polling" and returns; on (the default), it streams until stopped."""
    harness.set("exchange.sync.mailbox_notifications", "false")
    returned, mode = watch_for(harness, seconds=10)
    assert returned and mode == "polling"

    harness.set("exchange.sync.mailbox_notifications", "true")
    started = time.monotonic()
    returned, mode = watch_for(harness, seconds=3)
    assert not returned and time.monotonic() - started >= 3
    assert mode == "notifications"

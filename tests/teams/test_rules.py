"""Notification rules (issue 20): which events post which card to which channel, once.

The demo's MS Teams settings (two channels, rules on msext's own problems and on tickets)
over real syncs of the small demo through the EWS emulator; the cards are read back from
the outbox, where delivery takes them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from exchangelib.protocol import close_connections

from engine.profile import Profile
from engine.psa.model import RecordKind
from engine.settings.model import Settings
from engine.settings.teams import NotificationRule, RuleConditions, TeamsEvent, TeamsSettings
from engine.teams.alerts import Alert
from engine.teams.cards import as_text, card
from engine.teams.demo import IT_ALERTS, SERVICE_DESK, demo_teams_settings
from engine.teams.rules import channels_for, matches
from engine.teams.watch import post_new, serve
from tests.e2e.harness import Harness


@pytest.fixture
def harness() -> Iterator[Harness]:
    harness = Harness.create()
    configure(harness, demo_teams_settings())
    yield harness
    close_connections()
    harness.close()


def configure(harness: Harness, teams: dict[str, Any]) -> None:
    profile = Profile(harness.paths)
    try:
        document = profile.store.read_document()
        document["teams"] = teams
        profile.store.save(Settings.model_validate(document))
    finally:
        profile.close()


def cards(harness: Harness, channel_id: int) -> list[list[str]]:
    """The cards queued for a channel, each as the lines a person reads."""
    profile = Profile(harness.paths)
    try:
        return [as_text(item.card) for item in profile.teams.items(channel_id)]
    finally:
        profile.close()


def test_a_sync_error_posts_once_a_day_per_user_and_kind(harness: Harness) -> None:
    """R18 (to Teams too): Chloe's denied mailbox posts one card to the channel of the sync
    error rule, with the problem and the report to run; three more runs the same day post
    nothing more, and the ticket channel gets none of it."""
    harness.sync()
    (posted,) = cards(harness, IT_ALERTS)
    assert posted[0] == "MS Exchange sync error"
    assert posted[1].startswith("Chloe Reyes <chloe.reyes@")
    assert "Problem: the synchronization account may not open the mailbox" in posted
    assert any(
        line.startswith("Report: msext --profile e2e doctor chloe.reyes@") for line in posted
    )
    for _ in range(3):
        harness.sync()
    assert len(cards(harness, IT_ALERTS)) == 1
    assert cards(harness, SERVICE_DESK) == []


def test_a_second_error_kind_is_a_second_card(harness: Harness) -> None:
    """R18: another user's error of another kind the same day is a card of its own."""
    harness.sync()
    harness.set("exchange.resources.2.mailbox", "nobody@contoso.example")
    harness.sync()
    subjects = sorted(posted[1] for posted in cards(harness, IT_ALERTS))
    assert len(subjects) == 2
    assert subjects[0].startswith("Ben Brooks") and subjects[1].startswith("Chloe Reyes")


def test_a_dry_run_posts_nothing(harness: Harness) -> None:
    """R18: a dry run writes nothing anywhere, not even a card in the outbox."""
    harness.sync(dry_run=True)
    assert cards(harness, IT_ALERTS) == []


def test_an_inactive_rule_or_channel_posts_nothing(harness: Harness) -> None:
    """Only active rules post, and only to active channels."""
    teams = demo_teams_settings()
    teams["rules"]["1"]["active"] = False  # type: ignore[index]
    configure(harness, teams)
    harness.sync()
    assert cards(harness, IT_ALERTS) == []
    teams["rules"]["1"]["active"] = True  # type: ignore[index]
    teams["channels"][str(IT_ALERTS)]["active"] = False  # type: ignore[index]
    configure(harness, teams)
    harness.sync()
    assert cards(harness, IT_ALERTS) == []


def _alert(**fields: Any) -> Alert:
    return Alert(
        event=fields.pop("event", TeamsEvent.TICKET_CREATED),
        key="k",
        card=card("New ticket", "Printer on fire"),
        **fields,
    )


def _rule(**conditions: list[Any]) -> NotificationRule:
    return NotificationRule(
        event=TeamsEvent.TICKET_CREATED,
        conditions=RuleConditions(**conditions),
        channels=[1],
        active=True,
    )


def test_conditions_on_queue_priority_and_organization() -> None:
    """issue 20: a rule's optional conditions: queue, priority and organization must each
    hold (any listed value, in any case); an empty condition accepts everything; a condition
    on what the event does not have (a ticket in no queue) accepts nothing."""
    ticket = _alert(queue="Level I Support", priority="High", organization_id=7)
    assert matches(_rule(), ticket)
    assert matches(_rule(queues=["level i support", "Post Sale"]), ticket)
    assert not matches(_rule(queues=["Post Sale"]), ticket)
    assert matches(_rule(priorities=["Critical", "High"], organizations=[7]), ticket)
    assert not matches(_rule(priorities=["Critical"]), ticket)
    assert not matches(_rule(organizations=[8]), ticket)
    assert not matches(_rule(queues=["Post Sale"]), _alert(priority="High"))
    assert not matches(_rule(), _alert(event=TeamsEvent.TICKET_ASSIGNED))


def test_two_rules_on_one_channel_post_one_card_there() -> None:
    """One event matched by two rules posts one card per channel, to active channels only."""
    channels = {
        1: {"name": "A", "webhook": "file:a", "active": True},
        2: {"name": "B", "webhook": "file:b", "active": True},
        3: {"name": "C", "webhook": "file:c", "active": False},
    }
    rules = {
        1: {"event": "ticket_created", "channels": [1, 2], "active": True},
        2: {"event": "ticket_created", "channels": [2, 3], "active": True},
        3: {"event": "ticket_created", "channels": [3], "active": False},
    }
    teams = TeamsSettings.model_validate({"channels": channels, "rules": rules})
    assert channels_for(teams, _alert()) == [1, 2]


def test_a_look_without_listening_rules_creates_nothing(harness: Harness) -> None:
    """A profile without Teams rules does not even make MS Teams' state database."""
    configure(harness, {})
    harness.sync()
    assert not harness.paths.teams_db.exists()


def test_service_calls_created_rescheduled_and_restaffed(harness: Harness) -> None:
    """issue 20: service calls created, rescheduled and with changed resources post their
    card (organization, time, resources, what it was, a button to the call in the PSA);
    the calls there were when the rule was set up post nothing; looking again posts
    nothing twice."""
    teams = demo_teams_settings()
    events = ("created", "rescheduled", "resources_changed")
    teams["rules"] = {
        str(n): {"event": f"service_call_{event}", "channels": [IT_ALERTS], "active": True}
        for n, event in enumerate(events, start=1)
    }
    configure(harness, teams)
    now = datetime.now(UTC)
    profile = Profile(harness.paths)
    try:
        assert post_new(profile, now) == 0
        psa = harness.psa()
        call_id = psa.insert(
            "service_calls",
            company_id=1,
            description="Replace the core switch\nBring the spare.",
            start=now + timedelta(days=2),
            end=now + timedelta(days=2, hours=3),
        )
        psa.insert("service_call_resources", service_call_id=call_id, resource_id=1)
        assert post_new(profile, now) == 1
        assert post_new(profile, now) == 0
        psa.update(
            RecordKind.SERVICE_CALL,
            call_id,
            start=now + timedelta(days=3),
            end=now + timedelta(days=3, hours=3),
        )
        psa.insert("service_call_resources", service_call_id=call_id, resource_id=2)
        psa.update(RecordKind.SERVICE_CALL, call_id, complete=0)
        assert post_new(profile, now) == 2
        psa.close()
        posted = [as_text(item.card) for item in profile.teams.items(IT_ALERTS)]
    finally:
        profile.close()
    headings = [lines[0] for lines in posted]
    assert headings == [
        "New service call",
        "Service call rescheduled",
        "Service call resources changed",
    ]
    created = posted[0]
    assert created[1] == "Replace the core switch"
    assert "Resources: Ava Fischer" in created
    assert (
        f"[Open service call in the PSA] https://psa.contoso.example/service-calls/{call_id}"
        in created
    )
    assert any(line.startswith("Was: ") and "Ava Fischer" not in line for line in posted[1])
    assert "Was: Ava Fischer" in posted[2]


def test_the_daemon_looks_between_runs(harness: Harness) -> None:
    """issue 20: what happens in the PSA between runs is posted by the daemon's look (a
    service call created with no sync run at all)."""
    teams = demo_teams_settings()
    teams["rules"] = {"1": {"event": "service_call_created", "channels": [1], "active": True}}
    configure(harness, teams)
    stop = threading.Event()
    daemon = threading.Thread(target=serve, args=(harness.paths, stop, 0.05))
    daemon.start()
    try:
        profile = Profile(harness.paths)
        _wait(lambda: profile.teams.cursor("service_calls") is not None)
        psa = harness.psa()
        now = datetime.now(UTC)
        call_id = psa.insert(
            "service_calls",
            company_id=1,
            description="Site survey",
            start=now + timedelta(days=1),
            end=now + timedelta(days=1, hours=1),
        )
        psa.insert("service_call_resources", service_call_id=call_id, resource_id=1)
        psa.close()
        _wait(lambda: bool(profile.teams.items(IT_ALERTS)))
        profile.close()
    finally:
        stop.set()
        daemon.join()
    assert cards(harness, IT_ALERTS)[0][:2] == ["New service call", "Site survey"]


def _wait(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)

"""The demo's MS Teams end to end (its first sync posts Chloe's impersonation error once; the
Service Desk webhook answers 410 to its first post), ticket events and their cards, and
every kind of card valid for the Workflows peer (the official Adaptive Card schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from engine.adsync.demo import demo_directory
from engine.adsync.model import DirectoryError
from engine.adsync.run import AdSyncResult
from engine.adsync.sync import happenings, sync_organization
from engine.events import Happening, HappeningKind
from engine.exchange.sync import select_users, sync
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.model import TicketEvent, TicketEventKind
from engine.sandbox.teams import WorkflowsPeer
from engine.settings.teams import TeamsEvent
from engine.teams.alerts import happening_alert, service_call_alert, ticket_alert
from engine.teams.cards import as_text
from engine.teams.delivery import Delivery, message
from engine.teams.demo import IT_ALERTS, SERVICE_DESK
from engine.teams.sandbox import received_cards
from engine.teams.watch import post_new
from tests.adsync.directory import ListDirectory
from tests.conftest import copy_profiles


@pytest.fixture
def demo(demo_template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    copy_profiles(demo_template, isolated_dirs)
    profile = Profile(ProfilePaths.for_profile("demo"))
    yield profile
    profile.close()


def deliver(profile: Profile) -> None:
    delivery = Delivery.for_profile(profile.paths, profile.teams)
    try:
        while delivery.deliver_due() is not None:
            pass
    finally:
        delivery.close()


def sync_all(profile: Profile) -> None:
    for _ in sync(profile, select_users(profile), trigger="schedule"):
        pass


def channel_cards(profile: Profile, channel_id: int) -> list[list[str]]:
    channel = profile.settings.teams.channels[channel_id]
    return [as_text(card) for card in received_cards(profile.paths, channel_id, channel, 50)]


def test_the_demos_first_sync_posts_chloes_error_once(demo: Profile) -> None:
    """issue 20, R18: the demo's first sync posts Chloe's impersonation error to IT Alerts,
    once; a second sync the same day posts nothing more."""
    sync_all(demo)
    deliver(demo)
    (posted,) = channel_cards(demo, IT_ALERTS)
    assert posted[:2] == ["MS Exchange sync error", "Chloe Reyes <chloe.reyes@contoso.example>"]
    sync_all(demo)
    deliver(demo)
    assert len(channel_cards(demo, IT_ALERTS)) == 1


def test_the_demos_service_desk_webhook_is_gone_at_its_first_post(demo: Profile) -> None:
    """issue 20: a new high-priority ticket posts to Service Desk, whose webhook answers 410:
    the channel is inactivated at once and the error log says why."""
    now = datetime.now(UTC)
    assert post_new(demo, now) == 0  # the rules start watching the tickets from now
    demo.psa.create_ticket(1, "Printer on fire", priority=1)  # type: ignore[attr-defined]
    assert post_new(demo, now) == 1
    deliver(demo)
    demo.reload()
    assert not demo.settings.teams.channels[SERVICE_DESK].active
    (entry,) = demo.teams.errors()
    assert entry.channel_id == SERVICE_DESK and entry.status == 410
    assert channel_cards(demo, SERVICE_DESK) == []


def test_ticket_events_post_their_cards(demo: Profile) -> None:
    """issue 20: tickets created, assigned, changed in status or priority and due soon post
    a card with the ticket number, event, title, organization and contact, description,
    primary resource or queue, priority, status, due date and a button to the ticket."""
    teams = demo.settings.teams
    events = [e for e in TeamsEvent if e.value.startswith("ticket_")]
    rules = {
        str(n): {"event": e.value, "channels": [1], "active": True} for n, e in enumerate(events, 1)
    }

    def change(document: dict) -> None:
        document["teams"]["rules"] = rules

    demo.store.update(change, "test")
    demo.reload()
    assert teams  # the demo's channels stay
    now = datetime.now(UTC)
    post_new(demo, now)
    psa = demo.psa
    ticket_id = psa.create_ticket(  # type: ignore[attr-defined]
        1, "VPN drops every hour", description="Since the router update.", queue_id=29682833
    )
    psa.update_ticket(ticket_id, resource_id=1, status=8, priority=4)  # type: ignore[attr-defined]
    psa.update_ticket(ticket_id, due=now + timedelta(hours=3))  # type: ignore[attr-defined]
    post_new(demo, now)
    post_new(demo, now)
    cards = [as_text(item.card) for item in demo.teams.items(IT_ALERTS)]
    headings = sorted(card[0].split(":")[0] for card in cards)
    assert headings == [
        "New ticket",
        "Ticket assigned",
        "Ticket due soon",
        "Ticket priority changed",
        "Ticket status changed",
    ]
    created = next(card for card in cards if card[0].startswith("New ticket"))
    number = created[0].split(": ")[1]
    assert created[1] == "VPN drops every hour"
    assert f"Ticket: {number}" in created
    assert "Queue: Level I Support" in created or "Primary resource: Ava Fischer" in created
    assert "Since the router update." in created
    assert (
        created[-1] == f"[Open ticket in the PSA] https://psa.contoso.example/tickets/{ticket_id}"
    )
    status = next(card for card in cards if card[0].startswith("Ticket status"))
    assert "Event: status New -> In Progress" in status
    assert "Primary resource: Ava Fischer" in status and "Priority: Critical" in status


def test_ticket_conditions_pick_the_rule(demo: Profile) -> None:
    """issue 20: the demo's rule posts new tickets of priority High or Critical only."""
    now = datetime.now(UTC)
    post_new(demo, now)
    demo.psa.create_ticket(1, "Low: new mouse", priority=3)  # type: ignore[attr-defined]
    demo.psa.create_ticket(1, "High: server down", priority=1)  # type: ignore[attr-defined]
    assert post_new(demo, now) == 1
    (item,) = demo.teams.items(SERVICE_DESK)
    assert as_text(item.card)[1] == "High: server down"


def every_card(demo: Profile) -> list[dict]:
    """One card of each kind msext posts, from the demo's data."""
    web_url = demo.settings.psa.web_url
    ticket_id = demo.psa.create_ticket(1, 'A [b]title[/b] & "quotes"', description="x" * 5000)  # type: ignore[attr-defined]
    ticket = next(t for t in demo.psa.tickets() if t.id == ticket_id)  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    cards = [ticket_alert(TicketEvent(kind, ticket, now), web_url).card for kind in TicketEventKind]
    resource = demo.resources()[0]
    call = next(
        r
        for r in demo.psa.calendar_records(
            resource.id, now - timedelta(days=30), now + timedelta(days=60)
        )
        if r.key.startswith("service_call")
    )
    people = {r.id: r.name for r in demo.resources()}
    for event in (
        TeamsEvent.SERVICE_CALL_CREATED,
        TeamsEvent.SERVICE_CALL_RESCHEDULED,
        TeamsEvent.SERVICE_CALL_RESOURCES_CHANGED,
    ):
        cards.append(service_call_alert(event, call, people, web_url, "before").card)  # type: ignore[arg-type]
    cards += [
        happening_alert(
            Happening(kind, f"k{kind}", now, "Chloe Reyes <chloe@x>", "denied", (("Run", "1"),))
        ).card
        for kind in HappeningKind
    ]
    result = AdSyncResult(1, 7, False, "errors", errors=["LDAP: invalid credentials"])
    result.totals["conflicts"] = 2
    result.held = 3
    cards += [happening_alert(h).card for h in happenings(result, "Contoso", now)]
    return cards


def test_every_card_is_valid_for_the_workflows_webhook(demo: Profile) -> None:
    """issue 20 (card schema validity): every kind of card msext builds, PSA text with
    markup and a description too long included, is accepted (202) by the Workflows peer,
    which checks it against the official Adaptive Card schema."""
    cards = every_card(demo)
    assert len(cards) == 5 + 3 + 4 + 3
    with WorkflowsPeer() as peer, httpx.Client() as client:
        for number, card in enumerate(cards):
            hook = peer.add_webhook(f"channel {number}")  # one each: a webhook takes 4 a second
            answer = client.post(peer.url(hook), json=message(card))
            assert answer.status_code == 202, answer.text
            assert peer.received(hook)[0].cards == [card]


def test_ad_sync_conflicts_and_failures_post_once_a_day(demo: Profile) -> None:
    """issue 20: an AD sync run with conflicts posts its card to the AD sync rule's channel
    (once a day per organization); a run whose directory cannot be read posts a failure."""

    def demo_directory_of(company_id, settings, paths, today):
        return ListDirectory.of_demo(
            demo_directory(company_id, demo.psa.company_contacts(company_id))
        )

    @contextmanager
    def unreachable(company_id, settings, paths, today):
        raise DirectoryError("the domain controller did not answer")
        yield

    now = datetime.now(UTC)
    first = sync_organization(demo, 1, directory_factory=demo_directory_of, now=now)
    assert first.totals["conflicts"]
    sync_organization(demo, 1, directory_factory=demo_directory_of, now=now)
    failed = sync_organization(demo, 2, directory_factory=unreachable, now=now)
    assert failed.outcome == "failed"
    cards = [as_text(item.card) for item in demo.teams.items(IT_ALERTS)]
    assert [card[0] for card in cards] == ["AD sync conflicts", "AD sync failed"]
    assert cards[0][1].endswith("(organization 1)")
    assert any("need a decision on the organization's Users tab" in line for line in cards[0])
    assert "the domain controller did not answer" in cards[1]

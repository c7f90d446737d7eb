"""The EWS mailbox watch (issue 21): streaming notifications from the emulator, through
exchangelib, turned into one sync request per changed user, with its health reported."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from exchangelib import EWSDateTime
from exchangelib.protocol import close_connections

from engine.exchange.mailbox import ews_streaming
from engine.exchange.mailbox.ews_streaming import StreamTiming, serve
from engine.exchange.sync import select_users
from engine.exchange.watch import WatchReport
from engine.profile import Profile
from engine.psa.model import RecordKind
from engine.sandbox.ews import MailboxSpec, StreamingLimits
from engine.sandbox.ews.notifications import Notifications
from tests.e2e.harness import AVA, BEN, CHLOE, Harness
from tests.sandbox.peer import save_appointment

WATCHED = (AVA, BEN, CHLOE)
"""Chloe's mailbox may not be impersonated in the demo: she can never be watched."""
FAST_SERVER = StreamingLimits(minute_seconds=0.5, keep_alive_seconds=0.2)
"""A ConnectionTimeout minute lasts half a second: streams end and are renewed often."""
FAST_WATCH = StreamTiming(connection_minutes=1, renew_seconds=3, backoff_seconds=(0.2,))


@dataclass
class Watching:
    """The watch running in a thread, and what it said."""

    harness: Harness
    users: dict[str, int]
    """Ava's, Ben's and Chloe's user ids, as the daemon maps them."""
    stop: threading.Event = field(default_factory=threading.Event)
    changes: queue.Queue[tuple[int, datetime]] = field(default_factory=queue.Queue)
    reports: queue.Queue[WatchReport] = field(default_factory=queue.Queue)
    history: list[WatchReport] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self, users: Callable[[], dict[str, int]] | None = None) -> None:
        users = users or (lambda: self.users)
        profile = Profile(self.harness.paths)
        settings = profile.store.load()
        profile.close()
        self.thread = threading.Thread(
            target=serve,
            args=(
                settings,
                self.harness.paths,
                users,
                lambda uid, at: self.changes.put((uid, at)),
                self._reported,
                self.stop,
                FAST_WATCH,
            ),
            daemon=True,
        )
        self.thread.start()

    def _reported(self, report: WatchReport) -> None:
        self.history.append(report)
        self.reports.put(report)

    def report_where(self, holds: Callable[[WatchReport], bool], within: float = 10) -> WatchReport:
        ends = time.monotonic() + within
        while True:
            report = self.reports.get(timeout=max(ends - time.monotonic(), 0.01))
            if holds(report):
                return report

    def change_of(self, uid: int, within: float = 5) -> datetime:
        ends = time.monotonic() + within
        while True:
            found, at = self.changes.get(timeout=max(ends - time.monotonic(), 0.01))
            if found == uid:
                return at


@pytest.fixture
def watching() -> Iterator[Watching]:
    harness = Harness.create(streaming=FAST_SERVER)
    profile = Profile(harness.paths)
    users = {profile.mailbox_address(user).lower(): user.id for user in select_users(profile)}
    profile.close()
    watching = Watching(harness, {address: users[address] for address in WATCHED})
    yield watching
    watching.stop.set()
    if watching.thread is not None:
        watching.thread.join(timeout=10)
    close_connections()
    harness.close()


def _days_ahead(days: int) -> EWSDateTime:
    """A whole second ``days`` from now (an appointment's start)."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return EWSDateTime.from_datetime(moment)


def _all_watched(report: WatchReport) -> bool:
    """Ava and Ben watched; Chloe reported, with the reason."""
    return (
        report.mode == "notifications"
        and report.watched == 2
        and set(report.lapsed) == {CHLOE}
        and "impersonate" in report.lapsed[CHLOE]
    )


def test_a_change_by_another_client_reaches_the_watch_within_a_second(
    watching: Watching,
) -> None:
    """The person edits Ben's calendar in Outlook: the watch names Ben (and nobody else)
    with the change's time, within a second or two, over one stream for the group."""
    watching.start()
    watching.report_where(_all_watched)
    outlook = watching.harness.outlook(BEN)
    start = _days_ahead(1)
    saved_at = time.monotonic()
    save_appointment(outlook, "Dentist", start)
    changed_at = watching.change_of(watching.users[BEN], within=2)
    assert time.monotonic() - saved_at < 2
    assert abs((datetime.now(UTC) - changed_at).total_seconds()) < 5
    assert watching.changes.empty(), "only Ben changed"
    streams = watching.harness.emulator.stats.snapshot()["by_operation"]
    assert streams["Subscribe"] == 2, "one Subscribe for each mailbox it may impersonate"


def test_a_lapsed_subscription_is_reported_and_made_again(watching: Watching) -> None:
    """Exchange forgets Ava's subscription (an expiry, a restart of its EWS process): the
    next stream is refused for it (ErrorSubscriptionNotFound), the watch reports Ava as
    lapsed, subscribes her again after its back-off, and her changes arrive again."""
    watching.start()
    watching.report_where(_all_watched)
    hub = watching.harness.emulator.notifications
    assert hub.forget(AVA) == 1

    lapsed = watching.report_where(lambda report: AVA in report.lapsed)
    assert "subscription" in lapsed.lapsed[AVA].lower()
    assert lapsed.watched == 1
    watching.report_where(_all_watched)
    assert [found.mailbox for found in hub.live()].count(AVA) == 1

    start = _days_ahead(2)
    save_appointment(watching.harness.outlook(AVA), "Site visit", start)
    watching.change_of(watching.users[AVA], within=3)


def test_users_are_read_again_at_renewal_and_stop_is_prompt(watching: Watching) -> None:
    """A user added between renewals is watched after the next one, a removed one is
    unsubscribed; a mailbox whose group gets another anchor is subscribed again on the new
    anchor's server without a lapse; setting stop ends the watch within a few seconds."""
    current = {AVA: watching.users[AVA]}
    watching.start(lambda: dict(current))
    watching.report_where(lambda report: report.watched == 1)
    hub = watching.harness.emulator.notifications

    def subscribed(expected: dict[str, str]) -> None:
        ends = time.monotonic() + 10
        while {found.mailbox: found.server for found in hub.live()} != expected:
            assert time.monotonic() < ends, f"not subscribed as {expected}"
            time.sleep(0.1)

    current.pop(AVA)
    current[BEN] = watching.users[BEN]
    subscribed({BEN: Notifications.server_of(BEN)})
    current[AVA] = watching.users[AVA]
    subscribed({AVA: Notifications.server_of(AVA), BEN: Notifications.server_of(AVA)})
    watching.report_where(lambda report: report.watched == 2)
    assert not [report for report in watching.history if report.lapsed]

    stopped = time.monotonic()
    watching.stop.set()
    assert watching.thread is not None
    watching.thread.join(timeout=10)
    assert not watching.thread.is_alive()
    assert time.monotonic() - stopped < 3


def test_201_mailboxes_make_two_groups_each_on_its_anchor_server(watching: Watching) -> None:
    """Microsoft's grouping: at most 200 subscriptions a group and a connection. 201
    mailboxes are two groups anchored on their first addresses, their subscriptions on
    those anchors' servers, each carried by one stream the emulator accepts."""
    emulator = watching.harness.emulator
    many = {f"user{number:03d}@contoso.example": 1000 + number for number in range(201)}
    for address in many:
        emulator.add_mailbox(MailboxSpec(address, address))
    watching.start(lambda: many)
    watching.report_where(lambda report: report.watched == 201 and not report.lapsed, within=60)
    servers = Counter(found.server for found in emulator.notifications.live())
    assert servers == {
        Notifications.server_of("user000@contoso.example"): 200,
        Notifications.server_of("user200@contoso.example"): 1,
    }
    last = watching.harness.outlook("user200@contoso.example")
    start = _days_ahead(3)
    save_appointment(last, "Late booking", start)
    watching.change_of(many["user200@contoso.example"], within=3)


def test_groups_beyond_the_watch_s_sessions_are_reported_not_streamed(
    watching: Watching, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each open stream holds one of the watch's exchangelib sessions for its length: the
    groups past ``SESSIONS - 1`` are reported lapsed (the interval's runs cover them) rather
    than waiting for a session for ever. Run small: groups of one mailbox."""
    monkeypatch.setattr(ews_streaming, "GROUP_SIZE", 1)
    emulator = watching.harness.emulator
    many = {f"user{number:02d}@contoso.example": 100 + number for number in range(12)}
    for address in many:
        emulator.add_mailbox(MailboxSpec(address, address))
    watching.start(lambda: many)
    streamed = ews_streaming.SESSIONS - 1
    report = watching.report_where(lambda report: report.watched == streamed, within=20)
    assert sorted(report.lapsed) == sorted(many)[streamed:]
    assert "at most" in report.lapsed["user11@contoso.example"]
    first = watching.harness.outlook("user00@contoso.example")
    save_appointment(first, "Booked", _days_ahead(9))
    watching.change_of(many["user00@contoso.example"], within=3)


def test_the_engine_s_own_writes_are_no_sync_requests(watching: Watching) -> None:
    """A sync run writing Ava's and Ben's mailboxes is notified too; those notifications
    are held while the run holds the profile's lock and then dropped (each item carries
    the change key the run recorded), so the run's writes do not come back as requests.
    A person's edit made after it is one."""
    watching.start()
    watching.report_where(_all_watched)
    result = watching.harness.sync()
    assert result.totals["created"] > 0
    time.sleep(1)  # the notifications of the run's writes have come by now, and were held
    assert watching.changes.empty(), "the run's own writes are not requests"
    save_appointment(watching.harness.outlook(AVA), "Walk-in", _days_ahead(4))
    watching.change_of(watching.users[AVA], within=3)


def test_the_engine_s_deletions_are_no_sync_requests_but_a_person_s_are(
    watching: Watching,
) -> None:
    """A run deleting an appointment from Ava's mailbox (its PSA record deleted) is notified
    of the move to Deleted Items and drops it (the id map no longer links the item); a
    person deleting one of the linked items in Outlook is a request."""
    harness, ava = watching.harness, watching.users[AVA]
    harness.sync()
    watching.start()
    watching.report_where(_all_watched)
    psa = harness.psa()
    try:
        (row,) = psa._rows(
            "SELECT id FROM appointments WHERE resource_id = ? AND origin_key IS NULL"
            " ORDER BY id LIMIT 1",
            (ava,),
        )
        psa.delete(RecordKind.APPOINTMENT, row["id"])
    finally:
        psa.close()
    assert harness.sync().totals["deleted"] == 1
    time.sleep(1)  # the notification of the run's deletion has come by now, and was held
    assert watching.changes.empty(), "the run's own deletion is not a request"

    profile = Profile(harness.paths)
    linked = {link.item_id for link in profile.state.links(ava).values()}
    profile.close()
    outlook = harness.outlook(AVA)
    (item,) = [found for found in outlook.calendar.all() if found.id in linked][:1]
    item.move_to_trash()
    watching.change_of(ava, within=3)

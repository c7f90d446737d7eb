"""Looks at what happened since the last look and posts what the rules ask for: after each
sync run and AD sync run (``engine.followups``), and on the daemon's schedule (for what
happens in the PSA between runs).

Each source keeps a cursor in MS Teams' state, saved only after its events were queued:
a crash in between reads them again, and the outbox's keys drop what was queued already.
A source no active rule listens to is not read, and its cursor is dropped, so a rule
added later starts from that moment rather than posting a backlog.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.events import EventJournal
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.model import ServiceCall, TicketEvent
from engine.psa.source import PsaSource
from engine.settings.teams import TeamsEvent, TeamsSettings
from engine.teams.alerts import (
    HAPPENING_EVENTS,
    Alert,
    happening_alert,
    service_call_alert,
    ticket_alert,
)
from engine.teams.cards import when
from engine.teams.rules import post
from engine.teams.state import CallSnapshot, TeamsState

log = logging.getLogger(__name__)

DUE_SOON = timedelta(hours=24)
"""A ticket is due soon this long before its due date."""
FRESH = timedelta(hours=24)
"""msext's own happenings older than this are not posted (nobody listened then)."""
POLL_SECONDS = 60.0
"""How often the daemon looks (PSA tickets change between runs)."""

TICKET_EVENTS = frozenset(
    {
        TeamsEvent.TICKET_CREATED,
        TeamsEvent.TICKET_ASSIGNED,
        TeamsEvent.TICKET_STATUS_CHANGED,
        TeamsEvent.TICKET_PRIORITY_CHANGED,
    }
)
SERVICE_CALL_EVENTS = frozenset(
    {
        TeamsEvent.SERVICE_CALL_CREATED,
        TeamsEvent.SERVICE_CALL_RESCHEDULED,
        TeamsEvent.SERVICE_CALL_RESOURCES_CHANGED,
    }
)


def listened(teams: TeamsSettings) -> frozenset[TeamsEvent]:
    """The events some active rule posts to some active channel."""
    return frozenset(
        rule.event
        for rule in teams.rules.values()
        if rule.active
        and any(teams.channels.get(c) and teams.channels[c].active for c in rule.channels)
    )


@dataclass
class Look:
    """One look at every source for one profile at ``now``."""

    profile: Profile
    now: datetime

    @property
    def state(self) -> TeamsState:
        return self.profile.teams

    def run(self) -> int:
        """Posts what the rules ask for; how many cards were queued."""
        teams = self.profile.settings.teams
        events = listened(teams)
        if not events and not self.profile.paths.teams_db.exists():
            return 0
        queued = 0
        for source, wanted, read in (
            ("happenings", frozenset(HAPPENING_EVENTS.values()), self.happenings),
            ("tickets", TICKET_EVENTS, self.ticket_changes),
            ("service_calls", SERVICE_CALL_EVENTS, self.service_calls),
        ):
            if not events & wanted:
                self.state.drop_cursor(source)
                continue
            alerts, save = read(self.state.cursor(source))
            queued += post(self.state, teams, alerts)
            save()
        if TeamsEvent.TICKET_DUE_SOON in events:
            due = self.profile.psa.tickets_due(self.now, self.now + DUE_SOON)
            queued += post(self.state, teams, [self._ticket(change) for change in due])
        return queued

    def happenings(self, cursor: str | None) -> tuple[list[Alert], Callable[[], None]]:
        paths = self.profile.paths
        if not paths.events_db.exists():
            return [], lambda: None
        journal = EventJournal(paths.events_db)
        try:
            published = journal.since(int(cursor or 0))
        finally:
            journal.close()
        alerts = [happening_alert(h) for h in published if h.at >= self.now - FRESH]
        if not published:
            return alerts, lambda: None
        return alerts, lambda: self.state.set_cursor("happenings", str(published[-1].id))

    def ticket_changes(self, cursor: str | None) -> tuple[list[Alert], Callable[[], None]]:
        changes, following = self.profile.psa.ticket_changes(cursor)
        alerts = [self._ticket(change) for change in changes]
        return alerts, lambda: self.state.set_cursor("tickets", following)

    def _ticket(self, change: TicketEvent) -> Alert:
        return ticket_alert(change, self.profile.settings.psa.web_url)

    def service_calls(self, cursor: str | None) -> tuple[list[Alert], Callable[[], None]]:
        psa = self.profile.psa
        following = psa.cursor()
        known = self.state.service_calls()
        if cursor is None:
            touched = [r.id for r in psa.resources() if r.active]
        else:
            touched = sorted(psa.changes_since(cursor).resource_ids)
        seen = self._read_calls(psa, touched, known)
        people = {r.id: r.name for r in psa.resources()}
        web_url = self.profile.settings.psa.web_url
        alerts = [] if cursor is None else call_alerts(seen, known, people, web_url)
        snapshots = {call.id: snapshot(call) for call in seen.values()}
        return alerts, lambda: self.state.save_service_calls(snapshots, following)

    def _read_calls(
        self, psa: PsaSource, resource_ids: list[int], known: dict[int, CallSnapshot]
    ) -> dict[int, ServiceCall]:
        """The service calls of these resources in the sync window, and those seen before
        wherever they went."""
        sync = self.profile.settings.exchange.sync
        start = self.now - timedelta(days=sync.days_back)
        end = self.now + timedelta(days=sync.days_ahead)
        calls: dict[int, ServiceCall] = {}
        for resource_id in resource_ids:
            followed = [f"service_call:{i}" for i, c in known.items() if resource_id in c.resources]
            records = psa.calendar_records(resource_id, start, end)
            records += psa.followed_records(resource_id, followed) if followed else []
            calls.update((r.id, r) for r in records if isinstance(r, ServiceCall))
        return calls


def snapshot(call: ServiceCall) -> CallSnapshot:
    return CallSnapshot(
        int(call.start.timestamp()), int(call.end.timestamp()), tuple(sorted(call.resource_ids))
    )


def call_alerts(
    calls: dict[int, ServiceCall],
    known: dict[int, CallSnapshot],
    people: dict[int, str],
    web_url: str,
) -> list[Alert]:
    """New, rescheduled and re-staffed calls, compared with how they were last seen."""
    alerts = []
    for call_id, call in sorted(calls.items()):
        now, before = snapshot(call), known.get(call_id)
        if before is None:
            alerts.append(
                service_call_alert(TeamsEvent.SERVICE_CALL_CREATED, call, people, web_url)
            )
            continue
        if (now.start, now.end) != (before.start, before.end):
            was = f"{_moment(before.start)} - {_moment(before.end)}"
            alerts.append(
                service_call_alert(TeamsEvent.SERVICE_CALL_RESCHEDULED, call, people, web_url, was)
            )
        if now.resources != before.resources:
            was = ", ".join(people.get(r, f"resource {r}") for r in before.resources) or "none"
            alerts.append(
                service_call_alert(
                    TeamsEvent.SERVICE_CALL_RESOURCES_CHANGED, call, people, web_url, was
                )
            )
    return alerts


def _moment(seconds: int) -> str:
    return when(datetime.fromtimestamp(seconds, UTC))


def post_new(profile: Profile, now: datetime) -> int:
    """One look at every source; how many cards were queued."""
    return Look(profile, now).run()


def serve(paths: ProfilePaths, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> None:
    """The daemon's look every ``poll_seconds`` until ``stop``: tickets change in the PSA
    between runs. Its own profile (connections are not shared with the sync's thread);
    settings are read again before each look."""
    profile = Profile(paths)
    try:
        while not stop.is_set():
            try:
                profile.reload()
                post_new(profile, datetime.now(UTC))
            except Exception:
                log.exception("Teams notification rules could not look for events")
            stop.wait(poll_seconds)
    finally:
        profile.close()

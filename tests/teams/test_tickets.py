"""PSA tickets and their events, which the Teams notification rules post about (issue 20).

Both sources: the embedded PSA, and the REST API read with httpx over the PSA REST peer's
socket (which serves the same SQLite file, so the tests write tickets into it directly).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from engine.psa.demo import DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import Choice, TicketEvent, TicketEventKind
from engine.psa.rest import RestPsa
from engine.psa.rest_client import PsaRestClient
from engine.psa.source import PsaSource
from engine.psa.tickets import STATUS_COMPLETE
from engine.sandbox.psa_rest import PsaRestEmulator

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Desk:
    """A small PSA: two technicians, one customer with a contact; ``source`` reads it (the
    embedded PSA itself, or the REST API over the peer) and ``psa`` writes it."""

    psa: EmbeddedPsa
    ava: int
    ben: int
    company: int
    contact: int
    source: PsaSource | None = None
    peer: PsaRestEmulator | None = None

    def read(self, cursor: str | None) -> tuple[list[tuple[str, str | None, str | None]], str]:
        """The events since ``cursor`` as (kind, previous label, new label)."""
        events, after = self.reader.ticket_changes(cursor)
        return [_brief(event) for event in events], after

    @property
    def reader(self) -> PsaSource:
        return self.source or self.psa  # type: ignore[return-value]


def _brief(event: TicketEvent) -> tuple[str, str | None, str | None]:
    label = lambda choice: choice.label if choice else None  # noqa: E731
    return event.kind.value, label(event.previous), label(event.value)


def make_desk(path: Path | str) -> Desk:
    psa = EmbeddedPsa(path)
    ava = psa.insert("resources", first_name="Ava", last_name="Fischer", email="ava@x.example")
    ben = psa.insert("resources", first_name="Ben", last_name="Brooks", email="ben@x.example")
    company = psa.insert("companies", name="Alpine Dental", address="1 Main Street")
    contact = psa.insert(
        "contacts", company_id=company, first_name="Rosa", last_name="Reyes", email=None
    )
    return Desk(psa, ava, ben, company, contact)


def rest_source(peer: PsaRestEmulator, seen: Path | None = None) -> RestPsa:
    user = peer.user
    client = PsaRestClient(peer.url, user.username, user.secret, user.integration_code)
    return RestPsa(client, seen)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    made = make_desk(tmp_path / "psa.sqlite")
    yield made
    made.psa.close()


@pytest.fixture(params=["embedded", "rest"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    made = make_desk(tmp_path / "psa.sqlite")
    if request.param == "embedded":
        yield made
    else:
        with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
            made.peer, made.source = peer, rest_source(peer, tmp_path / "seen.sqlite")
            yield made
            made.source.close()
    made.psa.close()


def test_each_event_kind_from_both_sources(both: Desk) -> None:
    """Created, assigned, status and priority changed, each with what it was before and
    what it became; a change of title or description, or to the same value, is none."""
    psa = both.psa
    assert both.read(None)[0] == []
    _, cursor = both.read(None)
    ticket = psa.create_ticket(
        both.company, "Printer offline", contact_id=both.contact, queue_id=29682833
    )
    events, cursor = both.read(cursor)
    assert events == [("created", None, None)]
    psa.update_ticket(ticket, resource_id=both.ava)
    events, cursor = both.read(cursor)
    assert events == [("assigned", None, "Ava Fischer")]
    psa.update_ticket(ticket, resource_id=both.ben, status=8)
    events, cursor = both.read(cursor)
    assert events == [
        ("assigned", "Ava Fischer", "Ben Brooks"),
        ("status_changed", "New", "In Progress"),
    ]
    psa.update_ticket(ticket, priority=4, title="Printer still offline")
    full, cursor = both.reader.ticket_changes(cursor)
    assert [_brief(event) for event in full] == [("priority_changed", "Medium", "Critical")]
    now = full[0].ticket
    assert now.number == f"T{datetime.now(UTC):%Y%m%d}.0001"
    assert (now.title, now.company.name, now.contact_name) == (
        "Printer still offline",
        "Alpine Dental",
        "Rosa Reyes",
    )
    assert (now.status.label, now.priority.label, now.queue) == (
        "In Progress",
        "Critical",
        Choice(29682833, "Level I Support"),
    )
    assert now.primary_resource is not None and now.primary_resource.name == "Ben Brooks"
    psa.update_ticket(ticket, title="Printer fixed?", description="Since Monday.")
    psa.update_ticket(ticket, status=8, priority=4)  # the values it already has
    assert both.read(cursor)[0] == []


def test_a_completed_ticket_reopened_is_a_status_change(both: Desk) -> None:
    ticket = both.psa.create_ticket(both.company, "Backup failed")
    _, cursor = both.read(None)
    both.psa.update_ticket(ticket, status=STATUS_COMPLETE)
    events, cursor = both.read(cursor)
    assert events == [("status_changed", "New", "Complete")]
    both.psa.update_ticket(ticket, status=8)
    assert both.read(cursor)[0] == [("status_changed", "Complete", "In Progress")]


def test_the_cursor_replays_what_was_not_confirmed(both: Desk) -> None:
    """A caller that crashed before it handled a batch passes the old cursor again and
    gets the same events with the same de-duplication keys; ``None`` starts from now."""
    psa = both.psa
    psa.create_ticket(both.company, "Before watching")
    events, start = both.reader.ticket_changes(None)
    assert events == []
    ticket = psa.create_ticket(both.company, "Mailbox full")
    first, after = both.reader.ticket_changes(start)
    again, _ = both.reader.ticket_changes(start)
    assert [event.dedup_key for event in first] == [event.dedup_key for event in again]
    assert [(event.kind, event.ticket.id) for event in first] == [(TicketEventKind.CREATED, ticket)]
    _, after = both.reader.ticket_changes(start)
    psa.update_ticket(ticket, status=8)
    assert both.read(after)[0] == [("status_changed", "New", "In Progress")]


def test_a_cursor_of_the_other_source_starts_watching_anew(both: Desk) -> None:
    """The profile switched between the embedded PSA and the REST API: the Teams watch's
    saved cursor is the other source's, and it starts from now instead of failing."""
    foreign = "4711" if both.peer else "2026-12-02T12:00:00.000Z#1796212800.0"
    both.psa.create_ticket(both.company, "Before the switch")
    for cursor in (foreign, ""):
        events, cursor = both.reader.ticket_changes(cursor)
        assert events == []
    both.psa.create_ticket(both.company, "After the switch")
    assert both.read(cursor)[0] == [("created", None, None)]


def test_a_deleted_ticket_has_no_events_and_its_id_is_not_given_again(both: Desk) -> None:
    psa = both.psa
    _, cursor = both.read(None)
    kept = psa.create_ticket(both.company, "Kept", due=NOW + timedelta(hours=2))
    gone = psa.create_ticket(both.company, "Gone", due=NOW + timedelta(hours=2))
    psa.update_ticket(gone, status=8)
    assert psa.delete_ticket(gone) and not psa.delete_ticket(gone)
    events, _ = both.reader.ticket_changes(cursor)
    assert {event.ticket.id for event in events} == {kept}
    due = both.reader.tickets_due(NOW, NOW + timedelta(hours=4))
    assert [event.ticket.id for event in due] == [kept]
    assert psa.create_ticket(both.company, "Next") > gone


def test_due_soon_lists_open_tickets_due_in_the_window(both: Desk) -> None:
    psa = both.psa
    soon = psa.create_ticket(both.company, "Soon", due=NOW + timedelta(hours=3))
    psa.create_ticket(both.company, "Later", due=NOW + timedelta(hours=30))
    psa.create_ticket(both.company, "Overdue", due=NOW - timedelta(hours=1))
    psa.create_ticket(both.company, "No due date")
    done = psa.create_ticket(both.company, "Done", due=NOW + timedelta(hours=1))
    psa.update_ticket(done, status=STATUS_COMPLETE)
    found = both.reader.tickets_due(NOW, NOW + timedelta(hours=24))
    assert [(event.kind, event.ticket.id) for event in found] == [(TicketEventKind.DUE_SOON, soon)]
    assert found[0].ticket.due == NOW + timedelta(hours=3)
    psa.update_ticket(soon, due=NOW + timedelta(hours=5))
    moved = both.reader.tickets_due(NOW, NOW + timedelta(hours=24))
    assert moved[0].dedup_key != found[0].dedup_key  # a new due date is announced again


def test_more_changed_tickets_than_a_page_all_arrive(both: Desk) -> None:
    """The REST source reads the changed tickets 500 a page."""
    both.psa.create_ticket(both.company, "Open before watching")
    _, cursor = both.read(None)
    for index in range(620):
        both.psa.create_ticket(both.company, f"Ticket {index}")
    requests = both.peer.state.by_entity["Tickets"] if both.peer else 0
    events, _ = both.reader.ticket_changes(cursor)
    assert len(events) == 620 and len({event.ticket.id for event in events}) == 620
    if both.peer is not None:
        assert both.peer.state.by_entity["Tickets"] - requests == 2  # two pages


def test_the_embedded_psa_keeps_every_change_between_two_reads(desk: Desk) -> None:
    """Its history is kept by triggers: changes made between two reads are each an event,
    in order, with the value each one made (the REST source compares, so it sees only
    the last of them)."""
    psa = desk.psa
    _, cursor = psa.ticket_changes(None)
    ticket = psa.create_ticket(desk.company, "VPN drops")
    psa.update_ticket(ticket, resource_id=desk.ava)
    psa.update_ticket(ticket, resource_id=desk.ben, status=8)
    events, _ = desk.read(cursor)
    assert events == [
        ("created", None, None),
        ("assigned", None, "Ava Fischer"),
        ("assigned", "Ava Fischer", "Ben Brooks"),
        ("status_changed", "New", "In Progress"),
    ]
    keys = {event.dedup_key for event in psa.ticket_changes(cursor)[0]}
    assert len(keys) == 4


def test_reading_changes_is_a_few_queries_whatever_the_size(desk: Desk) -> None:
    psa = desk.psa
    _, cursor = psa.ticket_changes(None)
    for index in range(300):
        ticket = psa.create_ticket(desk.company, f"Ticket {index}")
        psa.update_ticket(ticket, status=8, resource_id=desk.ava)
    before = psa.queries
    events, _ = psa.ticket_changes(cursor)
    psa.tickets_due(NOW, NOW + timedelta(days=1))
    assert len(events) == 900 and psa.queries - before <= 3


def test_an_older_database_gets_the_tickets_its_service_calls_name(tmp_path: Path) -> None:
    """The tickets table arrived after service calls named tickets by number: opening an
    older database adds a ticket for each (the REST API links calls to Tickets by id)."""
    path = tmp_path / "old.sqlite"
    desk = make_desk(path)
    call = desk.psa.insert(
        "service_calls", company_id=desk.company, start=NOW, end=NOW + timedelta(hours=1)
    )
    desk.psa.close()
    with sqlite3.connect(path) as db:  # back to the schema before tickets
        db.executescript(
            "DROP TRIGGER service_call_ticket; DROP TABLE ticket_history; DROP TABLE tickets;"
            " DELETE FROM meta WHERE key = 'tickets_adopted';"
        )
        db.execute(
            "INSERT INTO service_call_tickets VALUES (?, 'T20261201.0004', 'Backup failed')",
            (call,),
        )
    psa = EmbeddedPsa(path)
    assert [(t.number, t.title, t.company.id) for t in psa.tickets()] == [
        ("T20261201.0004", "Backup failed", desk.company)
    ]
    psa.insert(
        "service_call_tickets", service_call_id=call, ticket_number="T20261201.0005", title="New"
    )
    assert [t.number for t in psa.tickets()] == ["T20261201.0004", "T20261201.0005"]
    psa.close()


def test_demo_tickets_leave_the_rest_of_the_demo_as_it_was() -> None:
    """The tickets come from a random stream of their own: every other record is the
    same with or without them."""
    size = DemoSize(resources=6, companies=12, opportunities=10, service_calls=12)
    with_tickets, without = EmbeddedPsa(":memory:"), EmbeddedPsa(":memory:")
    seed_demo_psa(with_tickets, date(2026, 12, 2), size=size)
    seed_demo_psa(without, date(2026, 12, 2), size=DemoSize(**{**size.__dict__, "tickets": 0}))
    for table in ("resources", "companies", "contacts", "appointments", "todos", "service_calls"):
        info = without._rows(f"PRAGMA table_info({table})")
        columns = [row[1] for row in info if row[1] not in ("seq", "modified_ms")]
        query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"
        assert with_tickets._rows(query) == without._rows(query), table
    tickets = with_tickets.tickets()
    assert len(tickets) - len(without.tickets()) == size.tickets
    assert {t.status.label for t in tickets} >= {"New", "In Progress", "Complete"}
    assert {t.priority.label for t in tickets} == {"Critical", "High", "Medium", "Low"}
    assert len({t.queue for t in tickets if t.queue}) == 5


def test_the_peer_refuses_unknown_ticket_fields_and_operators_by_name(tmp_path: Path) -> None:
    """As strict as the API, even with no ticket to read; tickets are not written there."""
    with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
        user = peer.user
        headers = {
            "UserName": user.username,
            "Secret": user.secret,
            "ApiIntegrationCode": user.integration_code,
        }
        url = f"{peer.url}v1.0/Tickets"

        def query(condition: dict[str, object]) -> httpx.Response:
            return httpx.post(f"{url}/query", json={"filter": [condition]}, headers=headers)

        assert query({"op": "gt", "field": "lastActivityDate", "value": "2026-12-01"}).json() == {
            "items": [],
            "pageDetails": {
                "count": 0,
                "requestCount": 500,
                "prevPageUrl": None,
                "nextPageUrl": None,
            },
        }
        unknown_field = query({"op": "eq", "field": "statusLabel", "value": "New"})
        assert unknown_field.status_code == 400 and "statusLabel" in unknown_field.text
        unknown_op = query({"op": "like", "field": "title", "value": "VPN"})
        assert unknown_op.status_code == 400 and "like" in unknown_op.text
        written = httpx.post(url, json={"title": "New"}, headers=headers)
        assert written.status_code == 405 and "POST Tickets" in written.text
        fields = httpx.get(f"{url}/entityInformation/fields", headers=headers).json()["fields"]
        status = next(field for field in fields if field["name"] == "status")
        assert {"value": "5", "label": "Complete"}.items() <= status["picklistValues"][-1].items()


def test_service_calls_name_their_tickets_through_the_tickets_entity(tmp_path: Path) -> None:
    """R15: a service call's tickets reach its mailbox copy by number and title, read over
    the API's ServiceCallTickets -> Tickets link, as from the embedded PSA."""
    desk = make_desk(tmp_path / "psa.sqlite")
    call = desk.psa.insert(
        "service_calls", company_id=desk.company, start=NOW, end=NOW + timedelta(hours=1)
    )
    desk.psa.insert("service_call_resources", service_call_id=call, resource_id=desk.ava)
    desk.psa.create_ticket(desk.company, "An unrelated ticket")
    for number, title in (("T20261130.0002", "Slow network"), ("T20261201.0001", "New laptop")):
        desk.psa.insert(
            "service_call_tickets", service_call_id=call, ticket_number=number, title=title
        )
    window = (NOW - timedelta(days=1), NOW + timedelta(days=1))
    embedded = desk.psa.calendar_records(desk.ava, *window)
    with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
        source = rest_source(peer)
        over_rest = source.calendar_records(desk.ava, *window)
        source.close()
    assert [record.tickets for record in over_rest] == [record.tickets for record in embedded]
    assert embedded[0].tickets == (
        ("T20261130.0002", "Slow network"),
        ("T20261201.0001", "New laptop"),
    )
    desk.psa.close()

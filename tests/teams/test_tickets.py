"""PSA tickets and their events, which the Teams notification rules post about (issue 20)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from engine.psa.demo import DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import Choice, TicketEventKind
from engine.psa.tickets import STATUS_COMPLETE

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Desk:
    """A small PSA: two technicians, one customer with a contact."""

    psa: EmbeddedPsa
    ava: int
    ben: int
    company: int
    contact: int


def make_desk(path: Path | str) -> Desk:
    psa = EmbeddedPsa(path)
    ava = psa.insert("resources", first_name="Ava", last_name="Fischer", email="ava@x.example")
    ben = psa.insert("resources", first_name="Ben", last_name="Brooks", email="ben@x.example")
    company = psa.insert("companies", name="Alpine Dental", address="1 Main Street")
    contact = psa.insert(
        "contacts", company_id=company, first_name="Rosa", last_name="Reyes", email=None
    )
    return Desk(psa, ava, ben, company, contact)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    made = make_desk(tmp_path / "psa.sqlite")
    yield made
    made.psa.close()


def test_each_change_is_one_event_with_what_it_was_before(desk: Desk) -> None:
    """Created, assigned, status and priority changed: each read once, oldest first, the
    ticket as it is now and the value it had before."""
    psa = desk.psa
    _, cursor = psa.ticket_changes(None)
    ticket = psa.create_ticket(
        desk.company, "Printer offline", contact_id=desk.contact, queue_id=29682833
    )
    psa.update_ticket(ticket, resource_id=desk.ava)
    psa.update_ticket(ticket, resource_id=desk.ben, status=8)
    psa.update_ticket(ticket, priority=4, title="Printer still offline")
    events, cursor = psa.ticket_changes(cursor)
    ava, ben = Choice(desk.ava, "Ava Fischer"), Choice(desk.ben, "Ben Brooks")
    assert [(event.kind, event.previous, event.value) for event in events] == [
        (TicketEventKind.CREATED, None, None),
        (TicketEventKind.ASSIGNED, None, ava),
        (TicketEventKind.ASSIGNED, ava, ben),
        (TicketEventKind.STATUS_CHANGED, Choice(1, "New"), Choice(8, "In Progress")),
        (TicketEventKind.PRIORITY_CHANGED, Choice(2, "Medium"), Choice(4, "Critical")),
    ]
    now = events[0].ticket
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
    assert len({event.dedup_key for event in events}) == len(events)
    assert psa.ticket_changes(cursor) == ([], cursor)


def test_a_title_or_description_change_is_no_event(desk: Desk) -> None:
    psa = desk.psa
    ticket = psa.create_ticket(desk.company, "VPN drops")
    _, cursor = psa.ticket_changes(None)
    psa.update_ticket(ticket, title="VPN drops at night", description="Since Monday.")
    psa.update_ticket(ticket, status=1, priority=2)  # the values it already has
    assert psa.ticket_changes(cursor)[0] == []


def test_the_cursor_replays_what_was_not_confirmed(desk: Desk) -> None:
    """A caller that crashed before it handled a batch passes the old cursor again and
    gets the same events with the same de-duplication keys; ``None`` starts from now."""
    psa = desk.psa
    psa.create_ticket(desk.company, "Before watching")
    events, start = psa.ticket_changes(None)
    assert events == []
    ticket = psa.create_ticket(desk.company, "Mailbox full")
    first, after = psa.ticket_changes(start)
    again, after_again = psa.ticket_changes(start)
    assert [event.dedup_key for event in first] == [event.dedup_key for event in again]
    assert after == after_again and [event.ticket.id for event in first] == [ticket]
    psa.update_ticket(ticket, status=STATUS_COMPLETE)
    assert [event.kind for event in psa.ticket_changes(after)[0]] == [
        TicketEventKind.STATUS_CHANGED
    ]


def test_a_deleted_ticket_has_no_events_and_its_id_is_not_given_again(desk: Desk) -> None:
    psa = desk.psa
    _, cursor = psa.ticket_changes(None)
    kept = psa.create_ticket(desk.company, "Kept", due=NOW + timedelta(hours=2))
    gone = psa.create_ticket(desk.company, "Gone", due=NOW + timedelta(hours=2))
    psa.update_ticket(gone, status=8)
    assert psa.delete_ticket(gone) and not psa.delete_ticket(gone)
    events, _ = psa.ticket_changes(cursor)
    assert {event.ticket.id for event in events} == {kept}
    assert [event.ticket.id for event in psa.tickets_due(NOW, NOW + timedelta(hours=4))] == [kept]
    assert psa.create_ticket(desk.company, "Next") > gone


def test_due_soon_lists_open_tickets_due_in_the_window(desk: Desk) -> None:
    psa = desk.psa
    soon = psa.create_ticket(desk.company, "Soon", due=NOW + timedelta(hours=3))
    psa.create_ticket(desk.company, "Later", due=NOW + timedelta(hours=30))
    psa.create_ticket(desk.company, "Overdue", due=NOW - timedelta(hours=1))
    psa.create_ticket(desk.company, "No due date")
    done = psa.create_ticket(desk.company, "Done", due=NOW + timedelta(hours=1))
    psa.update_ticket(done, status=STATUS_COMPLETE)
    found = psa.tickets_due(NOW, NOW + timedelta(hours=24))
    assert [(event.kind, event.ticket.id) for event in found] == [(TicketEventKind.DUE_SOON, soon)]
    psa.update_ticket(soon, due=NOW + timedelta(hours=5))
    moved = psa.tickets_due(NOW, NOW + timedelta(hours=24))
    assert moved[0].dedup_key != found[0].dedup_key  # a new due date is announced again


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

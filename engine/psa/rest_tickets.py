"""Ticket events read through the REST API, which keeps no change history we can afford.

The API's TicketHistory entity answers for one ticket at a time, so events are derived by
comparing: what each ticket looked like when last read (status, priority, primary
resource) is kept in a small SQLite file beside the sync state, and each read asks only
for the tickets whose ``lastActivityDate`` moved since the cursor (paged by 500). Watching
starts with the open tickets as they are; a ticket read for the first time afterwards is
*created* when its ``createDate`` is after the watch began, and otherwise was complete
then (it would have been read) and has been reopened: *status changed* from Complete.
A deleted ticket is never listed again, so it has no events (its row stays, a few bytes).
A lost file, or a read without a cursor or with another source's (the profile switched
from the embedded PSA), starts watching anew.

A read is replayable: the values it found are staged with the cursor it returns, and
become the comparison's base only when the caller passes that cursor back; passing the
older one again (the caller crashed before handling the events) compares with the old
base and finds the same events.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.psa.model import Choice, Company, Resource, Ticket, TicketEvent, TicketEventKind
from engine.psa.rest_client import Filter, PsaRestClient, iso, parse, private_db
from engine.psa.tickets import STATUS_COMPLETE, Picklists

TICKET_FIELDS = (
    "id",
    "ticketNumber",
    "title",
    "description",
    "companyID",
    "contactID",
    "status",
    "priority",
    "queueID",
    "assignedResourceID",
    "dueDateTime",
    "createDate",
    "lastActivityDate",
)
"""The Tickets entity's fields msext reads (the API has many more; the REST peer serves
these)."""
Seen = tuple[int, int, int | None]
"""(status, priority, primary resource) of a ticket when last read."""


class SeenTickets:
    """The last-read values of open tickets, and those staged by the last read."""

    def __init__(self, path: Path | None = None) -> None:
        self._db = private_db(path)
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS seen (id INTEGER PRIMARY KEY, status INTEGER NOT NULL,"
            " priority INTEGER NOT NULL, resource_id INTEGER);"
            "CREATE TABLE IF NOT EXISTS staged (id INTEGER PRIMARY KEY, status INTEGER NOT NULL,"
            " priority INTEGER NOT NULL, resource_id INTEGER);"
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        )
        self._lock = threading.Lock()

    def start(self, open_tickets: Mapping[int, Seen], at: datetime) -> None:
        """Watch from ``at``: the open tickets as they are then."""
        with self._write() as db:
            db.execute("DELETE FROM seen")
            db.execute("DELETE FROM staged")
            db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?)", _rows(open_tickets))
            db.execute("DELETE FROM meta WHERE key = 'staged_cursor'")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('watch_start', ?)", (iso(at),))

    def watch_start(self) -> datetime | None:
        """When watching began (``None``: never)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'watch_start'").fetchone()
        return parse(row[0]) if row else None

    def base(self, cursor: str, ids: Iterable[int]) -> dict[int, Seen]:
        """The values to compare with, for a read from ``cursor``: what the read that
        returned ``cursor`` staged becomes the base; anything staged for another cursor
        (never confirmed) is dropped."""
        with self._write() as db:
            staged = db.execute("SELECT value FROM meta WHERE key = 'staged_cursor'").fetchone()
            if staged and staged[0] == cursor:
                db.execute("INSERT OR REPLACE INTO seen SELECT * FROM staged")
            db.execute("DELETE FROM staged")
            db.execute("DELETE FROM meta WHERE key = 'staged_cursor'")
            wanted = sorted(set(ids))
            found: dict[int, Seen] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(f"SELECT * FROM seen WHERE id IN ({marks})", chunk):
                    found[row[0]] = (row[1], row[2], row[3])
        return found

    def stage(self, tickets: Mapping[int, Seen], cursor: str) -> None:
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO staged VALUES (?, ?, ?, ?)", _rows(tickets))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('staged_cursor', ?)", (cursor,))

    def _write(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db = db
        self.lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        try:
            self.db.execute("ROLLBACK" if error else "COMMIT")
        finally:
            self.lock.release()


def _rows(tickets: Mapping[int, Seen]) -> list[tuple[int, int, int, int | None]]:
    return [(ticket_id, *values) for ticket_id, values in sorted(tickets.items())]


def seen(ticket: Ticket) -> Seen:
    resource = ticket.primary_resource.id if ticket.primary_resource else None
    return ticket.status.value, ticket.priority.value, resource


def compared(
    before: Seen | None,
    ticket: Ticket,
    watch_start: datetime,
    picklists: Picklists,
    names: Mapping[int, str],
) -> list[TicketEvent]:
    """The events that turned ``before`` (``None``: not read since ``watch_start``) into
    ``ticket``."""
    at = ticket.last_activity
    if before is None:
        if ticket.created >= watch_start:
            return [TicketEvent(TicketEventKind.CREATED, ticket, at)]
        if ticket.status.value == STATUS_COMPLETE:
            return []
        before = (STATUS_COMPLETE, ticket.priority.value, seen(ticket)[2])  # reopened

    def named(resource_id: int | None) -> Choice | None:
        return (
            None
            if resource_id is None
            else Choice(resource_id, names.get(resource_id, str(resource_id)))
        )

    status, priority, resource = before
    now = seen(ticket)
    changes = (
        (TicketEventKind.ASSIGNED, resource != now[2], named(resource), named(now[2])),
        (TicketEventKind.STATUS_CHANGED, status != now[0], picklists.status(status), ticket.status),
        (
            TicketEventKind.PRIORITY_CHANGED,
            priority != now[1],
            picklists.priority(priority),
            ticket.priority,
        ),
    )
    return [
        TicketEvent(kind, ticket, at, previous, value)
        for kind, changed, previous, value in changes
        if changed
    ]


class TicketWatch:
    """Ticket events and due tickets over the API (see the module's docstring)."""

    MARGIN = timedelta(seconds=5)
    """Changes are read from a little before the cursor: clocks differ; a change read
    twice compares equal the second time."""

    def __init__(
        self,
        client: PsaRestClient,
        seen_tickets: SeenTickets,
        companies: Callable[[Iterable[int]], dict[int, Company]],
        contact_names: Callable[[Iterable[int]], dict[int, str]],
        resources: Callable[[], list[Resource]],
    ) -> None:
        self.client = client
        self.seen = seen_tickets
        self._companies = companies
        self._contact_names = contact_names
        self._resources = resources
        self._picklists: Picklists | None = None

    def changes(self, cursor: str | None) -> tuple[list[TicketEvent], str]:
        now = datetime.now(UTC)
        new_cursor = f"{iso(now)}#{now.timestamp()!r}"
        watch_start = self.seen.watch_start()
        since = _cursor_time(cursor)
        if since is None or watch_start is None:
            open_now = self._tickets([{"op": "noteq", "field": "status", "value": STATUS_COMPLETE}])
            # From the whole second: the PSA may keep creation times without milliseconds.
            self.seen.start(
                {ticket.id: seen(ticket) for ticket in open_now}, now.replace(microsecond=0)
            )
            return [], new_cursor
        since -= self.MARGIN
        changed = self._tickets([{"op": "gte", "field": "lastActivityDate", "value": iso(since)}])
        changed.sort(key=lambda ticket: (ticket.last_activity, ticket.id))
        base = self.seen.base(cursor, (ticket.id for ticket in changed))
        names = {resource.id: resource.name for resource in self._resources()}
        picklists = self.picklists()
        events = [
            event
            for ticket in changed
            for event in compared(base.get(ticket.id), ticket, watch_start, picklists, names)
        ]
        self.seen.stage({ticket.id: seen(ticket) for ticket in changed}, new_cursor)
        return events, new_cursor

    def due(self, start: datetime, end: datetime) -> list[TicketEvent]:
        found = self._tickets(
            [
                {"op": "gte", "field": "dueDateTime", "value": iso(start)},
                {"op": "lt", "field": "dueDateTime", "value": iso(end)},
                {"op": "noteq", "field": "status", "value": STATUS_COMPLETE},
            ]
        )
        found.sort(key=lambda ticket: (ticket.due, ticket.id))
        return [TicketEvent(TicketEventKind.DUE_SOON, ticket, start) for ticket in found]

    def picklists(self) -> Picklists:
        """The PSA's own status, priority and queue labels, read once."""
        if self._picklists is None:
            lists: dict[str, dict[int, str]] = {}
            for field in self.client.field_information("Tickets"):
                if field.get("isPickList") and field["name"] in ("status", "priority", "queueID"):
                    lists[field["name"]] = {
                        int(value["value"]): value["label"]
                        for value in field.get("picklistValues") or []
                    }
            self._picklists = Picklists(lists["status"], lists["priority"], lists["queueID"])
        return self._picklists

    def _tickets(self, filters: Filter) -> list[Ticket]:
        items = list(self.client.query("Tickets", filters, TICKET_FIELDS))
        if not items:
            return []
        companies = self._companies(item["companyID"] for item in items)
        contacts = self._contact_names(item["contactID"] for item in items if item["contactID"])
        resources = {resource.id: resource for resource in self._resources()}
        picklists = self.picklists()
        return [
            Ticket(
                id=item["id"],
                number=item["ticketNumber"],
                title=item["title"] or "",
                description=item["description"] or "",
                company=companies[item["companyID"]],
                contact_name=contacts.get(item["contactID"]),
                status=picklists.status(item["status"]),
                priority=picklists.priority(item["priority"]),
                queue=picklists.queue(item["queueID"]),
                primary_resource=resources.get(item["assignedResourceID"]),
                due=parse(item["dueDateTime"]),
                created=parse(item["createDate"]),  # type: ignore[arg-type]
                last_activity=parse(item["lastActivityDate"]),  # type: ignore[arg-type]
            )
            for item in items
        ]


def _cursor_time(cursor: str | None) -> datetime | None:
    """The time a cursor of :meth:`TicketWatch.changes` names; ``None`` for no cursor or
    one that is not such a cursor."""
    if not cursor or "#" not in cursor:
        return None
    try:
        return parse(cursor.partition("#")[0])
    except ValueError:
        return None

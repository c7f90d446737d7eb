"""The embedded PSA: a SQLite database with the records a real PSA would hold.

It is the demo's and the tests' PSA, and the default source. Every write takes the next
value of one change sequence, so ``changes_since`` is an indexed range read; deletions
leave a tombstone naming the resources they touched.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.psa.contacts import (
    CONTACT_FIELDS,
    ContactValues,
    ContactWrite,
    ContactWriteError,
    PsaContact,
    require_batch,
    require_names,
    written_values,
)
from engine.psa.model import (
    Appointment,
    CalendarRecord,
    ChangeSummary,
    Choice,
    Company,
    Contact,
    ImportedAppointment,
    RecordKind,
    Resource,
    ServiceCall,
    Ticket,
    TicketEvent,
    TicketEventKind,
    ToDo,
    earliest_per_key,
    parse_record_key,
)
from engine.psa.source import RecordGoneError
from engine.psa.tickets import STATUS_COMPLETE, STATUS_NEW, Picklists
from engine.settings.model import ContactScope

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY, first_name TEXT NOT NULL, last_name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE, active INTEGER NOT NULL DEFAULT 1, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS companies (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL DEFAULT '',
    owner_resource_id INTEGER REFERENCES resources(id), seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES companies(id),
    first_name TEXT NOT NULL, last_name TEXT NOT NULL, email TEXT, phone TEXT, title TEXT,
    seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS opportunities (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES companies(id),
    owner_resource_id INTEGER REFERENCES resources(id), title TEXT NOT NULL,
    seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS appointments (
    id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL REFERENCES resources(id),
    title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', start INTEGER NOT NULL,
    end INTEGER NOT NULL, all_day INTEGER NOT NULL DEFAULT 0, series_id INTEGER,
    origin_key TEXT UNIQUE, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS todos (
    id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL REFERENCES resources(id),
    company_id INTEGER NOT NULL REFERENCES companies(id), contact_id INTEGER,
    action_type TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', start INTEGER NOT NULL,
    end INTEGER NOT NULL, completed INTEGER, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS service_calls (
    id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL REFERENCES companies(id),
    description TEXT NOT NULL DEFAULT '', start INTEGER NOT NULL, end INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS service_call_resources (
    service_call_id INTEGER NOT NULL REFERENCES service_calls(id) ON DELETE CASCADE,
    resource_id INTEGER NOT NULL REFERENCES resources(id),
    PRIMARY KEY (service_call_id, resource_id));
CREATE TABLE IF NOT EXISTS service_call_tickets (
    service_call_id INTEGER NOT NULL REFERENCES service_calls(id) ON DELETE CASCADE,
    ticket_number TEXT NOT NULL, title TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS service_call_tasks (
    service_call_id INTEGER NOT NULL REFERENCES service_calls(id) ON DELETE CASCADE,
    title TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tombstones (
    entity TEXT NOT NULL, id INTEGER NOT NULL, resource_ids TEXT NOT NULL,
    seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_number TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
    company_id INTEGER NOT NULL REFERENCES companies(id), contact_id INTEGER,
    status INTEGER NOT NULL DEFAULT 1, priority INTEGER NOT NULL DEFAULT 2, queue_id INTEGER,
    resource_id INTEGER REFERENCES resources(id), due INTEGER,
    created INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER)),
    seq INTEGER NOT NULL DEFAULT 0, modified_ms INTEGER NOT NULL DEFAULT 0);
-- Each ticket change a Teams rule can post about, with its sequence number (ticket_changes).
CREATE TABLE IF NOT EXISTS ticket_history (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    field TEXT NOT NULL, old INTEGER, new INTEGER, seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS ticket_created AFTER INSERT ON tickets WHEN NEW.seq > 0
BEGIN
    INSERT INTO ticket_history VALUES (NEW.id, 'created', NULL, NULL, NEW.seq, NEW.modified_ms);
END;
CREATE TRIGGER IF NOT EXISTS ticket_status AFTER UPDATE OF status ON tickets
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO ticket_history
    VALUES (NEW.id, 'status', OLD.status, NEW.status, NEW.seq, NEW.modified_ms);
END;
CREATE TRIGGER IF NOT EXISTS ticket_priority AFTER UPDATE OF priority ON tickets
WHEN OLD.priority IS NOT NEW.priority
BEGIN
    INSERT INTO ticket_history
    VALUES (NEW.id, 'priority', OLD.priority, NEW.priority, NEW.seq, NEW.modified_ms);
END;
CREATE TRIGGER IF NOT EXISTS ticket_assigned AFTER UPDATE OF resource_id ON tickets
WHEN OLD.resource_id IS NOT NEW.resource_id
BEGIN
    INSERT INTO ticket_history
    VALUES (NEW.id, 'resource', OLD.resource_id, NEW.resource_id, NEW.seq, NEW.modified_ms);
END;
CREATE TRIGGER IF NOT EXISTS service_call_ticket AFTER INSERT ON service_call_tickets
BEGIN
    INSERT OR IGNORE INTO tickets(ticket_number, title, company_id, status, created, modified_ms)
    SELECT NEW.ticket_number, NEW.title, s.company_id, CASE WHEN s.complete THEN 5 ELSE 1 END,
    s.start, MIN(s.start, CAST(strftime('%s', 'now') AS INTEGER)) * 1000
    FROM service_calls s WHERE s.id = NEW.service_call_id;
END;
CREATE INDEX IF NOT EXISTS appointments_by_resource ON appointments(resource_id, start);
CREATE INDEX IF NOT EXISTS appointments_by_seq ON appointments(seq);
CREATE INDEX IF NOT EXISTS todos_by_resource ON todos(resource_id, start);
CREATE INDEX IF NOT EXISTS todos_by_seq ON todos(seq);
CREATE INDEX IF NOT EXISTS todos_by_company ON todos(company_id);
CREATE INDEX IF NOT EXISTS todos_by_contact ON todos(contact_id);
CREATE INDEX IF NOT EXISTS service_calls_by_seq ON service_calls(seq);
CREATE INDEX IF NOT EXISTS service_calls_by_company ON service_calls(company_id);
CREATE INDEX IF NOT EXISTS scr_by_resource ON service_call_resources(resource_id);
CREATE INDEX IF NOT EXISTS contacts_by_company ON contacts(company_id);
CREATE INDEX IF NOT EXISTS contacts_by_seq ON contacts(seq);
CREATE INDEX IF NOT EXISTS companies_by_owner ON companies(owner_resource_id);
CREATE INDEX IF NOT EXISTS companies_by_seq ON companies(seq);
CREATE INDEX IF NOT EXISTS opportunities_by_owner ON opportunities(owner_resource_id);
CREATE INDEX IF NOT EXISTS opportunities_by_seq ON opportunities(seq);
CREATE INDEX IF NOT EXISTS tombstones_by_seq ON tombstones(seq);
CREATE INDEX IF NOT EXISTS tickets_by_due ON tickets(due);
CREATE INDEX IF NOT EXISTS tickets_by_modified ON tickets(modified_ms);
CREATE INDEX IF NOT EXISTS ticket_history_by_seq ON ticket_history(seq);
"""

_COMPANY_COLUMNS = "c.name, c.address, c.owner_resource_id"


def to_epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("PSA times must be timezone-aware")
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def from_epoch_ms(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EmbeddedPsa:
    """The SQLite PSA; thread-safe (one connection behind a lock, WAL for readers)."""

    _process_queries = 0
    _process_lock = threading.Lock()

    @classmethod
    def queries_in_process(cls) -> int:
        """Statements run by every embedded PSA of this process, for benchmarks: the
        daemon's services (the change poll, the runs) each open their own."""
        return cls._process_queries

    def __init__(self, path: Path | str) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except sqlite3.Error as error:
            raise UserError(f"cannot open the embedded PSA at {path}: {error}") from None
        self._lock = threading.RLock()
        self._db.execute("PRAGMA foreign_keys = ON")
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        self._add_columns()
        self._adopt_service_call_tickets()
        self.queries = 0
        """Statements run, for benchmarks."""

    # -- plumbing ------------------------------------------------------------------------

    def _add_columns(self) -> None:
        """Columns added to tables after their first release, added to older databases on
        open (see :data:`_ADDED_COLUMNS`); looked for again inside the write transaction,
        since another connection opening the database at the same moment may add them."""
        if not self._missing_columns():
            return
        with self.transaction() as db:
            for table, name, definition in self._missing_columns():
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    def _missing_columns(self) -> list[tuple[str, str, str]]:
        missing = []
        for table, added in sorted(_ADDED_COLUMNS.items()):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            missing += [(table, name, kind) for name, kind in added if name not in columns]
        return missing

    def _adopt_service_call_tickets(self) -> None:
        """A service call's ticket is a ticket (the REST API links calls to Tickets by id):
        a database from before the tickets table gets one for each ticket its calls name,
        as the ``service_call_ticket`` trigger does for every call recorded since."""
        if self._db.execute("SELECT 1 FROM meta WHERE key = 'tickets_adopted'").fetchone():
            return
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO tickets(ticket_number, title, company_id, status,"
                " created, modified_ms) SELECT t.ticket_number, t.title, s.company_id,"
                f" CASE WHEN s.complete THEN {STATUS_COMPLETE} ELSE {STATUS_NEW} END,"
                " s.start, MIN(s.start, CAST(strftime('%s', 'now') AS INTEGER)) * 1000"
                " FROM service_call_tickets t"
                " JOIN service_calls s ON s.id = t.service_call_id ORDER BY t.rowid"
            )
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('tickets_adopted', '1')")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; sequence numbers taken inside it are contiguous."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            self.queries += 1
            with EmbeddedPsa._process_lock:
                EmbeddedPsa._process_queries += 1
            cursor = self._db.execute(sql, tuple(params))
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()

    def next_seq(self) -> int:
        """The next change sequence number; call inside :meth:`transaction`."""
        row = self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('seq', '1') ON CONFLICT(key) DO UPDATE"
            " SET value = CAST(value AS INTEGER) + 1 RETURNING value"
        ).fetchone()
        return int(row[0])

    def meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE"
                " SET value = excluded.value",
                (key, value),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- reading -------------------------------------------------------------------------

    def resources(self) -> list[Resource]:
        return [
            Resource(
                row["id"], row["first_name"], row["last_name"], row["email"], bool(row["active"])
            )
            for row in self._rows("SELECT * FROM resources ORDER BY last_name, first_name, id")
        ]

    def companies(self) -> list[Company]:
        return [
            _company(row)
            for row in self._rows(
                "SELECT id AS company_id, name, address, owner_resource_id FROM companies"
                " ORDER BY name, id"
            )
        ]

    def cursor(self) -> str:
        return self.meta("seq") or "0"

    def changes_since(self, cursor: str) -> ChangeSummary:
        """One query when nothing changed (the change sequence is compared first), so the
        daemon can poll it often; each touched user with the earliest modification time of
        what touched it."""
        since, now = int(cursor), int(self.cursor())
        if now <= since:
            return ChangeSummary(str(now), frozenset(), False, False)
        span = (since, now)
        touched: list[tuple[int, int]] = []
        for sql in _TOUCHING:
            touched += [(row[0], row[1]) for row in self._rows(sql, span)]
        contacts, contacts_ms = self._rows(_CHANGED.format("contacts"), span)[0]
        owners, owners_ms = self._rows(
            f"SELECT SUM(n), MIN(at) FROM ({_CHANGED.format('companies')}"
            f" UNION ALL {_CHANGED.format('opportunities')})",
            span * 2,
        )[0]
        contacts_changed = bool(contacts)
        for row in self._rows(
            "SELECT entity, resource_ids, at_ms FROM tombstones WHERE seq > ? AND seq <= ?", span
        ):
            touched += [(user, row["at_ms"]) for user in json.loads(row["resource_ids"])]
            if row["entity"] == RecordKind.CONTACT.value:
                contacts_changed = True
                contacts_ms = min(filter(None, (contacts_ms, row["at_ms"])), default=None)
        return ChangeSummary(
            cursor=str(now),
            resource_ids=frozenset(user for user, _ in touched),
            contacts_changed=contacts_changed,
            companies_or_opportunities_changed=bool(owners),
            changed_at=earliest_per_key((user, _known(ms)) for user, ms in touched),
            shared_changed_at=min(
                filter(None, (_known(contacts_ms), _known(owners_ms))), default=None
            ),
        )

    def calendar_records(
        self, resource_id: int, start: datetime, end: datetime
    ) -> list[CalendarRecord]:
        return self._calendar(
            resource_id, "{}start < ? AND {}end > ?", (to_epoch(end), to_epoch(start))
        )

    def followed_records(self, resource_id: int, keys: Collection[str]) -> list[CalendarRecord]:
        ids = sorted({parse_record_key(key)[1] for key in keys})
        if not ids:
            return []
        wanted = set(keys)
        condition = "{}id IN (" + ",".join("?" * len(ids)) + ")"
        found = self._calendar(resource_id, condition, tuple(ids))
        return [record for record in found if record.key in wanted]

    def _calendar(
        self, resource_id: int, condition: str, params: tuple[int, ...]
    ) -> list[CalendarRecord]:
        """A resource's appointments, to-dos and service calls meeting ``condition`` (its
        ``{}`` placeholders take the table's alias)."""
        window = (resource_id, *params)
        records: list[CalendarRecord] = [
            Appointment(
                id=row["id"],
                resource_id=row["resource_id"],
                title=row["title"],
                description=row["description"],
                start=from_epoch(row["start"]),
                end=from_epoch(row["end"]),
                all_day=bool(row["all_day"]),
                series_id=row["series_id"],
                origin_key=row["origin_key"],
            )
            for row in self._rows(
                "SELECT * FROM appointments WHERE resource_id = ? AND "
                + condition.format("", "", "")
                + " ORDER BY id",
                window,
            )
        ]
        records.extend(
            ToDo(
                id=row["id"],
                resource_id=row["resource_id"],
                company=_company(row),
                contact_name=row["contact_name"],
                action_type=row["action_type"],
                description=row["description"],
                start=from_epoch(row["start"]),
                end=from_epoch(row["end"]),
                completed=from_epoch(row["completed"]) if row["completed"] else None,
            )
            for row in self._rows(
                f"SELECT t.*, {_COMPANY_COLUMNS},"
                " k.first_name || ' ' || k.last_name AS contact_name"
                " FROM todos t JOIN companies c ON c.id = t.company_id"
                " LEFT JOIN contacts k ON k.id = t.contact_id"
                " WHERE t.resource_id = ? AND " + condition.format("t.", "t.") + " ORDER BY t.id",
                window,
            )
        )
        records.extend(self._service_calls(condition.format("s.", "s."), window))
        return records

    def _service_calls(self, condition: str, window: tuple[int, ...]) -> list[ServiceCall]:
        rows = self._rows(
            f"SELECT s.*, {_COMPANY_COLUMNS} FROM service_calls s"
            " JOIN service_call_resources r ON r.service_call_id = s.id"
            " JOIN companies c ON c.id = s.company_id"
            f" WHERE r.resource_id = ? AND {condition} ORDER BY s.id",
            window,
        )
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        resources: dict[int, list[int]] = {}
        for row in self._rows(
            f"SELECT service_call_id, resource_id FROM service_call_resources"
            f" WHERE service_call_id IN ({marks}) ORDER BY resource_id",
            ids,
        ):
            resources.setdefault(row[0], []).append(row[1])
        tickets: dict[int, list[tuple[str, str]]] = {}
        for row in self._rows(
            f"SELECT * FROM service_call_tickets WHERE service_call_id IN ({marks})"
            " ORDER BY ticket_number",
            ids,
        ):
            tickets.setdefault(row["service_call_id"], []).append(
                (row["ticket_number"], row["title"])
            )
        tasks: dict[int, list[str]] = {}
        for row in self._rows(
            f"SELECT * FROM service_call_tasks WHERE service_call_id IN ({marks}) ORDER BY title",
            ids,
        ):
            tasks.setdefault(row["service_call_id"], []).append(row["title"])
        return [
            ServiceCall(
                id=row["id"],
                company=_company(row),
                description=row["description"],
                start=from_epoch(row["start"]),
                end=from_epoch(row["end"]),
                complete=bool(row["complete"]),
                resource_ids=tuple(resources.get(row["id"], ())),
                tickets=tuple(tickets.get(row["id"], ())),
                tasks=tuple(tasks.get(row["id"], ())),
            )
            for row in rows
        ]

    def contacts(self, resource_id: int, scope: ContactScope) -> list[Contact]:
        sql = (
            f"SELECT k.*, {_COMPANY_COLUMNS} FROM contacts k"
            " JOIN companies c ON c.id = k.company_id WHERE k.active = 1"
        )
        params: tuple[int, ...] = ()
        if scope is ContactScope.OWNED:
            sql += (
                " AND (c.owner_resource_id = ? OR c.id IN"
                " (SELECT company_id FROM opportunities WHERE owner_resource_id = ?))"
            )
            params = (resource_id, resource_id)
        return [
            Contact(
                id=row["id"],
                company=_company(row),
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=row["email"],
                phone=row["phone"],
                title=row["title"],
            )
            for row in self._rows(sql + " ORDER BY k.id", params)
        ]

    def company_contacts(self, company_id: int) -> list[PsaContact]:
        """The organization's contacts for AD Sync, active and inactive."""
        self._require_company(company_id)
        return [
            PsaContact(
                id=row["id"],
                company_id=row["company_id"],
                values=ContactValues(**{name: row[name] or "" for name in CONTACT_FIELDS}),
                active=bool(row["active"]),
            )
            for row in self._rows(
                "SELECT * FROM contacts WHERE company_id = ? ORDER BY id", (company_id,)
            )
        ]

    def stored_values(self, values: ContactValues) -> ContactValues:
        """The embedded PSA keeps every field whole."""
        return values

    def _require_company(self, company_id: int) -> None:
        if not self._rows("SELECT 1 FROM companies WHERE id = ?", (company_id,)):
            raise UserError(f"the PSA has no company {company_id}")

    def counts(self) -> dict[str, int]:
        """Records per table, for the console and ``msext status``."""
        tables = ("resources", "companies", "contacts", "opportunities", "appointments")
        tables += ("todos", "service_calls")
        return {table: self._rows(f"SELECT COUNT(*) FROM {table}")[0][0] for table in tables}

    # -- tickets ------------------------------------------------------------------------

    def ticket_changes(self, cursor: str | None) -> tuple[list[TicketEvent], str]:
        """Tickets created, assigned, or changed in status or priority after ``cursor``,
        oldest first, and the cursor to pass next; ``None``, or a cursor that is not this
        source's, starts watching from now.

        Triggers on the tickets table record each change with its sequence number (see
        :data:`SCHEMA`), so this is one indexed read whatever the PSA's size. A ticket
        deleted since has no events: there is nothing left to describe.
        """
        until = self.cursor()
        if cursor is None or not cursor.isdigit():  # another source's (the profile switched)
            return [], until
        rows = self._rows(
            f"SELECT h.field, h.old, h.new, h.at_ms, {_TICKET_COLUMNS},"
            " p.first_name || ' ' || p.last_name AS old_name,"
            " n.first_name || ' ' || n.last_name AS new_name FROM ticket_history h"
            f" JOIN tickets t ON t.id = h.ticket_id {_TICKET_JOINS}"
            " LEFT JOIN resources p ON h.field = 'resource' AND p.id = h.old"
            " LEFT JOIN resources n ON h.field = 'resource' AND n.id = h.new"
            " WHERE h.seq > ? AND h.seq <= ?"
            " ORDER BY h.seq, instr('created resource status priority', h.field)",
            (int(cursor), int(until)),
        )
        events = []
        for row in rows:
            kind = _HISTORY[row["field"]]
            if kind is TicketEventKind.STATUS_CHANGED:
                values = (_PICKLISTS.status(row["old"]), _PICKLISTS.status(row["new"]))
            elif kind is TicketEventKind.PRIORITY_CHANGED:
                values = (_PICKLISTS.priority(row["old"]), _PICKLISTS.priority(row["new"]))
            elif kind is TicketEventKind.ASSIGNED:
                values = (_named(row["old"], row["old_name"]), _named(row["new"], row["new_name"]))
            else:
                values = (None, None)
            at = from_epoch_ms(row["at_ms"])
            events.append(TicketEvent(kind, _ticket(row, _PICKLISTS), at, *values))
        return events, until

    def tickets_due(self, start: datetime, end: datetime) -> list[TicketEvent]:
        """Open tickets (not complete) due in [start, end), soonest first, as due-soon
        events found at ``start``; which of them were announced already is the caller's to
        remember (each event's ``dedup_key`` names the ticket and its due date)."""
        rows = self._rows(
            f"SELECT {_TICKET_COLUMNS} FROM tickets t {_TICKET_JOINS}"
            " WHERE t.due >= ? AND t.due < ? AND t.status != ? ORDER BY t.due, t.id",
            (to_epoch(start), to_epoch(end), STATUS_COMPLETE),
        )
        return [
            TicketEvent(TicketEventKind.DUE_SOON, _ticket(row, _PICKLISTS), start) for row in rows
        ]

    def tickets(self) -> list[Ticket]:
        """Every ticket, by id (the demo and tests; the Teams rules read events)."""
        rows = self._rows(f"SELECT {_TICKET_COLUMNS} FROM tickets t {_TICKET_JOINS} ORDER BY t.id")
        return [_ticket(row, _PICKLISTS) for row in rows]

    def create_ticket(
        self, company_id: int, title: str, created: datetime | None = None, **columns: Any
    ) -> int:
        """A new ticket numbered as the PSA numbers them: ``T`` and its creation date, then
        the day's running number (T20261202.0001); ``columns`` are the table's."""
        moment = created or datetime.now(UTC)
        prefix = f"T{moment.astimezone(UTC):%Y%m%d}."
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM tickets WHERE ticket_number LIKE ?", (prefix + "%",)
            ).fetchone()
            number = f"{prefix}{row[0] + 1:04d}"
            return self.insert(
                "tickets",
                ticket_number=number,
                title=title,
                company_id=company_id,
                created=moment,
                **columns,
            )

    def update_ticket(self, ticket_id: int, **columns: Any) -> bool:
        """Change columns of a ticket (status, priority, resource_id, due, ...): the
        triggers record what the events need; whether it existed."""
        return self._update("tickets", ticket_id, columns)

    def delete_ticket(self, ticket_id: int) -> bool:
        """Delete a ticket and its history; its id is never given again (AUTOINCREMENT)."""
        with self.transaction() as db:
            deleted = db.execute("DELETE FROM tickets WHERE id = ?", (ticket_id,)).rowcount
            if deleted:
                self.next_seq()  # readers that cache by the cursor (the REST peer) read anew
        return bool(deleted)

    # -- writing (what the engine may write, and what the demo and tests seed) ----------

    def save_imported(
        self, resource_id: int, appointment: ImportedAppointment, record_id: int | None = None
    ) -> int:
        """An upsert by origin key (a unique column); the record it was imported as
        (``record_id``) takes the appointment's origin key when that changed (an occurrence
        named anew, R10)."""
        if record_id is not None:
            with self.transaction() as db:
                db.execute(
                    "UPDATE OR IGNORE appointments SET origin_key = ?"
                    " WHERE id = ? AND origin_key IS NOT NULL",
                    (appointment.origin_key, record_id),
                )
        values = (
            resource_id,
            appointment.title,
            appointment.description,
            to_epoch(appointment.start),
            to_epoch(appointment.end),
            int(appointment.all_day),
        )
        with self.transaction() as db:
            seq = self.next_seq()
            fresh = _fresh_id(db, RecordKind.APPOINTMENT)
            row = db.execute(
                "INSERT INTO appointments(id, resource_id, title, description, start, end,"
                " all_day, origin_key, seq, modified_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(origin_key) DO UPDATE SET resource_id = excluded.resource_id,"
                " title = excluded.title, description = excluded.description,"
                " start = excluded.start, end = excluded.end, all_day = excluded.all_day,"
                " seq = excluded.seq, modified_ms = excluded.modified_ms RETURNING id",
                (fresh, *values, appointment.origin_key, seq, now_ms()),
            ).fetchone()
        return int(row[0])

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        """AD Sync's writes to the organization's contacts, all in one transaction (issue
        19: batches of 500): a write that cannot be applied undoes the batch and raises
        :class:`ContactWriteError` naming it, so nothing of the batch is half written."""
        require_batch(writes)
        self._require_company(company_id)
        ids: list[int] = []
        with self.transaction() as db:
            for index, write in enumerate(writes):
                if write.contact_id is None:
                    ids.append(self._create_contact(db, company_id, write, index))
                else:
                    self._update_contact(db, company_id, write, index)
                    ids.append(write.contact_id)
        return ids

    def _create_contact(
        self, db: sqlite3.Connection, company_id: int, write: ContactWrite, index: int
    ) -> int:
        require_names(write, index)
        columns = {name: getattr(write.values, name) for name in CONTACT_FIELDS}
        columns |= {
            "id": _fresh_id(db, RecordKind.CONTACT),
            "company_id": company_id,
            "active": int(write.active is not False),
            "seq": self.next_seq(),
            "modified_ms": now_ms(),
        }
        db.execute(
            f"INSERT INTO contacts({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(columns.values()),
        )
        return int(columns["id"])

    def _update_contact(
        self, db: sqlite3.Connection, company_id: int, write: ContactWrite, index: int
    ) -> None:
        columns: dict[str, Any] = written_values(write)
        if write.active is not None:
            columns["active"] = int(write.active)
        assignments = "".join(f"{column} = ?, " for column in columns)
        updated = db.execute(
            f"UPDATE contacts SET {assignments}seq = ?, modified_ms = ?"
            " WHERE id = ? AND company_id = ?",
            (*columns.values(), self.next_seq(), now_ms(), write.contact_id, company_id),
        )
        if not updated.rowcount:
            raise ContactWriteError(
                f"contact {write.contact_id} is no longer in the PSA's company {company_id}"
                " (deleted or moved); nothing of its batch was written",
                index,
            )

    def delete_imported(self, record_id: int) -> None:
        self.delete(RecordKind.APPOINTMENT, record_id, only_imported=True)

    def rekey_imported(self, rekey: Callable[[str], str]) -> None:
        """Not a change of the record: no new sequence number."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, origin_key FROM appointments WHERE origin_key IS NOT NULL"
            ).fetchall()
            db.executemany(
                "UPDATE OR IGNORE appointments SET origin_key = ? WHERE id = ?",
                [(rekey(key), record_id) for record_id, key in rows if rekey(key) != key],
            )

    def move(self, key: str, start: datetime, end: datetime) -> None:
        kind, record_id = parse_record_key(key)
        if kind not in (RecordKind.APPOINTMENT, RecordKind.TODO):
            raise ValueError(f"only appointments and to-dos take date changes (R16), not {kind}")
        if not self.update(kind, record_id, start=start, end=end):
            raise RecordGoneError(f"{key} was deleted in the PSA during the run")

    def delete(self, kind: RecordKind, record_id: int, only_imported: bool = False) -> bool:
        """Delete a record and leave a tombstone for ``changes_since``; whether it existed."""
        table = _TABLES[kind]
        with self.transaction() as db:
            touched_sql = _TOUCHED.get(kind)
            touched = (
                [row[0] for row in db.execute(touched_sql, (record_id,))] if touched_sql else []
            )
            condition = " AND origin_key IS NOT NULL" if only_imported else ""
            deleted = db.execute(f"DELETE FROM {table} WHERE id = ?{condition}", (record_id,))
            if deleted.rowcount:
                db.execute(
                    "INSERT INTO tombstones(entity, id, resource_ids, seq, at_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (kind.value, record_id, json.dumps(touched), self.next_seq(), now_ms()),
                )
        return bool(deleted.rowcount)

    def update(self, kind: RecordKind, record_id: int, **columns: Any) -> bool:
        """Change columns of a record, taking a new sequence number; whether it existed."""
        return self._update(_TABLES[kind], record_id, columns)

    def _update(self, table: str, record_id: int, columns: dict[str, Any]) -> bool:
        for column, value in list(columns.items()):
            if isinstance(value, datetime):
                columns[column] = to_epoch(value)
        assignments = ", ".join(f"{column} = ?" for column in columns)
        with self.transaction() as db:
            updated = db.execute(
                f"UPDATE {table} SET {assignments}, seq = ?, modified_ms = ? WHERE id = ?",
                (*columns.values(), self.next_seq(), now_ms(), record_id),
            )
        return bool(updated.rowcount)

    def insert(self, table: str, **columns: Any) -> int:
        """Add one row to a table, taking a sequence number where the table has one, and
        for a record an id never issued before (see :func:`_fresh_id`)."""
        for column, value in list(columns.items()):
            if isinstance(value, datetime):
                columns[column] = to_epoch(value)
        with self.transaction() as db:
            if table in _SEQUENCED:
                columns["seq"] = self.next_seq()
                columns["modified_ms"] = now_ms()
            if table in _KINDS and "id" not in columns:
                columns["id"] = _fresh_id(db, _KINDS[table])
            names = ", ".join(columns)
            marks = ", ".join("?" * len(columns))
            row = db.execute(
                f"INSERT INTO {table}({names}) VALUES ({marks}) RETURNING rowid",
                tuple(columns.values()),
            ).fetchone()
        return int(row[0])


_TABLES = {
    RecordKind.APPOINTMENT: "appointments",
    RecordKind.TODO: "todos",
    RecordKind.SERVICE_CALL: "service_calls",
    RecordKind.CONTACT: "contacts",
}
_KINDS = {table: kind for kind, table in _TABLES.items()}
_SEQUENCED = frozenset({"resources", "companies", "opportunities", "tickets", *_TABLES.values()})
_ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    table: [("modified_ms", "INTEGER NOT NULL DEFAULT 0")] for table in _SEQUENCED
}
"""Every sequenced row also carries when it last changed (milliseconds since the epoch),
which the REST API shows as its last-modified fields; contacts carry what AD Sync fills;
a tombstone when its record was deleted (the change poll's latency starts there)."""
_ADDED_COLUMNS["tombstones"] = [("at_ms", "INTEGER NOT NULL DEFAULT 0")]
_ADDED_COLUMNS["contacts"] += [
    (name, "TEXT NOT NULL DEFAULT ''")
    for name in CONTACT_FIELDS
    if name not in ("first_name", "last_name", "email", "phone", "title")
] + [("active", "INTEGER NOT NULL DEFAULT 1")]
_TOUCHED = {
    RecordKind.APPOINTMENT: "SELECT resource_id FROM appointments WHERE id = ?",
    RecordKind.TODO: "SELECT resource_id FROM todos WHERE id = ?",
    RecordKind.SERVICE_CALL: "SELECT resource_id FROM service_call_resources"
    " WHERE service_call_id = ?",
}


_TOUCHING = (
    "SELECT resource_id, modified_ms FROM appointments WHERE seq > ? AND seq <= ?",
    "SELECT resource_id, modified_ms FROM todos WHERE seq > ? AND seq <= ?",
    "SELECT r.resource_id, s.modified_ms FROM service_calls s JOIN service_call_resources r"
    " ON r.service_call_id = s.id WHERE s.seq > ? AND s.seq <= ?",
    "SELECT id, modified_ms FROM resources WHERE seq > ? AND seq <= ?",
    # Users whose records show a changed company or contact (R15), whatever they sync.
    "SELECT t.resource_id, c.modified_ms FROM companies c JOIN todos t ON t.company_id = c.id"
    " WHERE c.seq > ? AND c.seq <= ?",
    "SELECT t.resource_id, k.modified_ms FROM contacts k JOIN todos t ON t.contact_id = k.id"
    " WHERE k.seq > ? AND k.seq <= ?",
    "SELECT r.resource_id, c.modified_ms FROM companies c"
    " JOIN service_calls s ON s.company_id = c.id"
    " JOIN service_call_resources r ON r.service_call_id = s.id WHERE c.seq > ? AND c.seq <= ?",
)
"""(user, modification time in ms) of each change in a span of the change sequence that
touches a user."""
_CHANGED = "SELECT COUNT(*) AS n, MIN(modified_ms) AS at FROM {} WHERE seq > ? AND seq <= ?"
"""How many rows of a table changed in a span of the change sequence, and the earliest
modification time among them."""


def _known(milliseconds: int | None) -> datetime | None:
    """A stored modification time; 0 (rows written before times were kept) is unknown."""
    return from_epoch_ms(milliseconds) if milliseconds else None


_PICKLISTS = Picklists()
_TICKET_COLUMNS = (
    f"t.*, {_COMPANY_COLUMNS}, k.first_name || ' ' || k.last_name AS contact_name,"
    " r.first_name AS resource_first_name, r.last_name AS resource_last_name,"
    " r.email AS resource_email, r.active AS resource_active"
)
_TICKET_JOINS = (
    "JOIN companies c ON c.id = t.company_id LEFT JOIN contacts k ON k.id = t.contact_id"
    " LEFT JOIN resources r ON r.id = t.resource_id"
)
"""A ticket with its company, contact and primary resource, from ``tickets t``."""
_HISTORY = {
    "created": TicketEventKind.CREATED,
    "resource": TicketEventKind.ASSIGNED,
    "status": TicketEventKind.STATUS_CHANGED,
    "priority": TicketEventKind.PRIORITY_CHANGED,
}
"""ticket_history's field -> the event it is."""


def _named(resource_id: int | None, name: str | None) -> Choice | None:
    """A resource as an event names it (a deleted one by its number)."""
    return None if resource_id is None else Choice(resource_id, name or str(resource_id))


def _ticket(row: sqlite3.Row, picklists: Picklists) -> Ticket:
    resource = None
    if row["resource_id"] is not None:
        resource = Resource(
            row["resource_id"],
            row["resource_first_name"],
            row["resource_last_name"],
            row["resource_email"],
            bool(row["resource_active"]),
        )
    return Ticket(
        id=row["id"],
        number=row["ticket_number"],
        title=row["title"],
        description=row["description"],
        company=_company(row),
        contact_name=row["contact_name"],
        status=picklists.status(row["status"]),
        priority=picklists.priority(row["priority"]),
        queue=picklists.queue(row["queue_id"]),
        primary_resource=resource,
        due=from_epoch(row["due"]) if row["due"] is not None else None,
        created=from_epoch(row["created"]),
        last_activity=from_epoch_ms(row["modified_ms"]),
    )


def _company(row: sqlite3.Row) -> Company:
    return Company(
        id=row["company_id"],
        name=row["name"],
        address=row["address"],
        owner_resource_id=row["owner_resource_id"],
    )


def _fresh_id(db: sqlite3.Connection, kind: RecordKind) -> int:
    """An id above every one the table ever held, deleted ones included (their tombstones
    remember them): like the real PSA, never one that a stale link could still name."""
    table = _TABLES[kind]
    row = db.execute(
        f"SELECT MAX(COALESCE((SELECT MAX(id) FROM {table}), 0),"
        " COALESCE((SELECT MAX(id) FROM tombstones WHERE entity = ?), 0))",
        (kind.value,),
    ).fetchone()
    return int(row[0]) + 1

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

from engine.adsync.model import ContactValues, ContactWrite, ContactWriteError, PsaContact
from engine.errors import UserError
from engine.psa.contacts import CONTACT_FIELDS, require_batch, require_names, written_values
from engine.psa.model import (
    Appointment,
    CalendarRecord,
    ChangeSummary,
    Company,
    Contact,
    ImportedAppointment,
    RecordKind,
    Resource,
    ServiceCall,
    ToDo,
    parse_record_key,
)
from engine.psa.source import RecordGoneError
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
"""

_COMPANY_COLUMNS = "c.name, c.address, c.owner_resource_id"


def to_epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("PSA times must be timezone-aware")
    return int(moment.timestamp())


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class EmbeddedPsa:
    """The SQLite PSA; thread-safe (one connection behind a lock, WAL for readers)."""

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
        self.queries = 0
        """Statements run, for benchmarks."""

    # -- plumbing ------------------------------------------------------------------------

    def _add_columns(self) -> None:
        """Columns added to tables after their first release, added to older databases on
        open (see :data:`_ADDED_COLUMNS`)."""
        for table, added in sorted(_ADDED_COLUMNS.items()):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, definition in added:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

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
        since = int(cursor)
        touched: set[int] = set()
        for sql in (
            "SELECT resource_id FROM appointments WHERE seq > ?",
            "SELECT resource_id FROM todos WHERE seq > ?",
            "SELECT r.resource_id FROM service_calls s JOIN service_call_resources r"
            " ON r.service_call_id = s.id WHERE s.seq > ?",
            "SELECT id FROM resources WHERE seq > ?",
            # Users whose records show a changed company or contact (R15), whatever they sync.
            "SELECT t.resource_id FROM companies c JOIN todos t ON t.company_id = c.id"
            " WHERE c.seq > ?",
            "SELECT t.resource_id FROM contacts k JOIN todos t ON t.contact_id = k.id"
            " WHERE k.seq > ?",
            "SELECT r.resource_id FROM companies c JOIN service_calls s ON s.company_id = c.id"
            " JOIN service_call_resources r ON r.service_call_id = s.id WHERE c.seq > ?",
        ):
            touched.update(row[0] for row in self._rows(sql, (since,)))
        contacts_changed = bool(
            self._rows("SELECT 1 FROM contacts WHERE seq > ? LIMIT 1", (since,))
        )
        owners_changed = bool(
            self._rows("SELECT 1 FROM companies WHERE seq > ? LIMIT 1", (since,))
            or self._rows("SELECT 1 FROM opportunities WHERE seq > ? LIMIT 1", (since,))
        )
        for row in self._rows(
            "SELECT entity, resource_ids FROM tombstones WHERE seq > ?", (since,)
        ):
            touched.update(json.loads(row["resource_ids"]))
            contacts_changed |= row["entity"] == RecordKind.CONTACT.value
        return ChangeSummary(
            cursor=self.cursor(),
            resource_ids=frozenset(touched),
            contacts_changed=contacts_changed,
            companies_or_opportunities_changed=owners_changed,
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
                    "INSERT INTO tombstones(entity, id, resource_ids, seq) VALUES (?, ?, ?, ?)",
                    (kind.value, record_id, json.dumps(touched), self.next_seq()),
                )
        return bool(deleted.rowcount)

    def update(self, kind: RecordKind, record_id: int, **columns: Any) -> bool:
        """Change columns of a record, taking a new sequence number; whether it existed."""
        table = _TABLES[kind]
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
_SEQUENCED = frozenset({"resources", "companies", "opportunities", *_TABLES.values()})
_ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    table: [("modified_ms", "INTEGER NOT NULL DEFAULT 0")] for table in _SEQUENCED
}
"""Every sequenced row also carries when it last changed (milliseconds since the epoch),
which the REST API shows as its last-modified fields; contacts carry what AD Sync fills."""
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

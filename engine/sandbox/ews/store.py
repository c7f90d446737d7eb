"""The emulator's mailboxes in SQLite: items as the XML exchangelib sent, and a change log.

A sync state is a position in the change log, as real Exchange keeps one per folder; every
create, update, move and delete appends to it, so SyncFolderItems can page through exactly
what changed since any state it handed out.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

from engine.sandbox.ews.xml import format_datetime, from_bytes, to_bytes

FOLDERS = (
    "root",
    "msgfolderroot",
    "calendar",
    "contacts",
    "tasks",
    "inbox",
    "sentitems",
    "deleteditems",
    "drafts",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS mailboxes (
    address TEXT PRIMARY KEY, name TEXT NOT NULL, password TEXT NOT NULL,
    granted INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, mailbox TEXT NOT NULL, folder TEXT NOT NULL,
    change_key TEXT NOT NULL, version INTEGER NOT NULL, xml BLOB NOT NULL,
    created TEXT NOT NULL, modified TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_by_folder ON items(mailbox, folder);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, mailbox TEXT NOT NULL, folder TEXT NOT NULL,
    item_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT, other_folder TEXT);
CREATE INDEX IF NOT EXISTS changes_by_folder ON changes(mailbox, folder, seq);
CREATE INDEX IF NOT EXISTS changes_by_mailbox ON changes(mailbox, seq);
CREATE TABLE IF NOT EXISTS sent (
    id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL, at TEXT NOT NULL, xml BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Mailbox:
    address: str
    name: str
    password: str
    granted: bool


@dataclass(frozen=True)
class StoredItem:
    item_id: str
    mailbox: str
    folder: str
    change_key: str
    element: ET.Element
    created: str
    modified: str


@dataclass(frozen=True)
class Change:
    """One entry of a mailbox's change log, as streaming notifications report it."""

    seq: int
    folder: str
    item_id: str
    kind: str
    """``create``, ``update`` or ``delete``; a move is a delete here and a create there."""
    at: str | None
    """When it happened (UTC, xs:dateTime); unknown for entries older than this column."""
    other_folder: str | None
    """For the two entries of a move, the folder at its other end."""


_ADDED_COLUMNS = {"changes": ("at TEXT", "other_folder TEXT")}
"""Columns added after sandbox databases were first written: added to an older file."""


def folder_id(mailbox: str, folder: str) -> str:
    return base64.b64encode(f"F|{mailbox}|{folder}".encode()).decode()


def parse_folder_id(value: str) -> tuple[str, str] | None:
    try:
        kind, mailbox, folder = base64.b64decode(value, validate=True).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        return None
    return (mailbox, folder) if kind == "F" and folder in FOLDERS else None


def _new_id() -> str:
    return base64.b64encode(b"\x00msext" + os.urandom(27)).decode()


def _change_key(version: int) -> str:
    return base64.b64encode(f"CK{version:08d}".encode() + os.urandom(6)).decode()


class Store:
    """Thread-safe: the HTTP server answers several connections at once."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._add_columns()
        self._db.executescript(SCHEMA)
        self.changed = threading.Condition()
        """Notified after every committed change: streaming notifications wait on it."""

    def _add_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if present and column.split()[0] not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        with self.changed:
            self.changed.notify_all()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- mailboxes -------------------------------------------------------------------------

    def put_mailbox(self, mailbox: Mailbox, replace: bool) -> None:
        """Add a mailbox; with ``replace``, also update an existing one's name, password, grant."""
        action = (
            "DO UPDATE SET name = excluded.name, password = excluded.password,"
            " granted = excluded.granted"
            if replace
            else "DO NOTHING"
        )
        with self.transaction() as db:
            db.execute(
                "INSERT INTO mailboxes VALUES (?, ?, ?, ?) ON CONFLICT(address) " + action,
                (mailbox.address.lower(), mailbox.name, mailbox.password, int(mailbox.granted)),
            )

    def set_granted(self, address: str, granted: bool) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE mailboxes SET granted = ? WHERE address = ?",
                (int(granted), address.lower()),
            )

    def mailbox(self, address: str) -> Mailbox | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM mailboxes WHERE address = ?", (address.lower(),)
            ).fetchone()
        return Mailbox(row[0], row[1], row[2], bool(row[3])) if row else None

    def mailboxes(self) -> list[Mailbox]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM mailboxes ORDER BY address").fetchall()
        return [Mailbox(row[0], row[1], row[2], bool(row[3])) for row in rows]

    # -- items -----------------------------------------------------------------------------

    def _item(self, row: tuple) -> StoredItem:
        return StoredItem(row[0], row[1], row[2], row[3], from_bytes(row[5]), row[6], row[7])

    def get(self, item_id: str) -> StoredItem | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM items WHERE item_id = ?", (item_id,)).fetchone()
        return self._item(row) if row else None

    def items(self, mailbox: str, folder: str) -> list[StoredItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM items WHERE mailbox = ? AND folder = ? ORDER BY created, item_id",
                (mailbox, folder),
            ).fetchall()
        return [self._item(row) for row in rows]

    def count(self, mailbox: str, folder: str) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM items WHERE mailbox = ? AND folder = ?", (mailbox, folder)
            ).fetchone()[0]

    def create(self, mailbox: str, folder: str, element: ET.Element) -> StoredItem:
        item_id, change_key = _new_id(), _change_key(1)
        now = format_datetime(datetime.now(UTC))
        with self.transaction() as db:
            db.execute(
                "INSERT INTO items VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (item_id, mailbox, folder, change_key, to_bytes(element), now, now),
            )
            self._log(db, mailbox, folder, item_id, "create")
        return StoredItem(item_id, mailbox, folder, change_key, element, now, now)

    def replace(self, item: StoredItem, element: ET.Element) -> StoredItem:
        now = format_datetime(datetime.now(UTC))
        with self.transaction() as db:
            version = db.execute(
                "SELECT version FROM items WHERE item_id = ?", (item.item_id,)
            ).fetchone()[0]
            change_key = _change_key(version + 1)
            db.execute(
                "UPDATE items SET xml = ?, change_key = ?, version = ?, modified = ?"
                " WHERE item_id = ?",
                (to_bytes(element), change_key, version + 1, now, item.item_id),
            )
            self._log(db, item.mailbox, item.folder, item.item_id, "update")
        return StoredItem(
            item.item_id, item.mailbox, item.folder, change_key, element, item.created, now
        )

    def delete(self, item: StoredItem, move_to: str | None) -> None:
        """Delete, or move to another folder (a delete there, a create here)."""
        with self.transaction() as db:
            self._log(db, item.mailbox, item.folder, item.item_id, "delete", move_to)
            if move_to is None:
                db.execute("DELETE FROM items WHERE item_id = ?", (item.item_id,))
                return
            db.execute(
                "UPDATE items SET folder = ?, change_key = ?, version = version + 1"
                " WHERE item_id = ?",
                (move_to, _change_key(0), item.item_id),
            )
            self._log(db, item.mailbox, move_to, item.item_id, "create", item.folder)

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        mailbox: str,
        folder: str,
        item_id: str,
        kind: str,
        other_folder: str | None = None,
    ) -> None:
        db.execute(
            "INSERT INTO changes(mailbox, folder, item_id, kind, at, other_folder)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (mailbox, folder, item_id, kind, format_datetime(datetime.now(UTC)), other_folder),
        )

    # -- the change log --------------------------------------------------------------------

    def head(self, mailbox: str, folder: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(seq) FROM changes WHERE mailbox = ? AND folder = ?", (mailbox, folder)
            ).fetchone()
        return row[0] or 0

    def changes_since(self, mailbox: str, folder: str, seq: int) -> list[tuple[int, str, str]]:
        """(seq, item_id, kind) after ``seq``, oldest first."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, item_id, kind FROM changes WHERE mailbox = ? AND folder = ?"
                " AND seq > ? ORDER BY seq",
                (mailbox, folder, seq),
            ).fetchall()

    def last_seq(self) -> int:
        """The newest entry of the whole log (0 when empty)."""
        with self._lock:
            return self._db.execute("SELECT MAX(seq) FROM changes").fetchone()[0] or 0

    def mailbox_changes(self, mailbox: str, seq: int, limit: int) -> list[Change]:
        """At most ``limit`` entries of one mailbox's log after ``seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, folder, item_id, kind, at, other_folder FROM changes"
                " WHERE mailbox = ? AND seq > ? ORDER BY seq LIMIT ?",
                (mailbox, seq, limit),
            ).fetchall()
        return [Change(*row) for row in rows]

    def changes_after(self, seq: int, limit: int) -> list[tuple[str, Change]]:
        """(mailbox, entry) of at most ``limit`` entries of the whole log after ``seq``,
        oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT mailbox, seq, folder, item_id, kind, at, other_folder FROM changes"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [(row[0], Change(*row[1:])) for row in rows]

    def first_seq(self, mailbox: str, folder: str, item_id: str) -> int | None:
        """When the item last arrived in this folder (its newest create entry)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(seq) FROM changes WHERE mailbox = ? AND folder = ? AND item_id = ?"
                " AND kind = 'create'",
                (mailbox, folder, item_id),
            ).fetchone()
        return row[0]

    # -- sent messages ---------------------------------------------------------------------

    def record_sent(self, mailbox: str, element: ET.Element) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sent(mailbox, at, xml) VALUES (?, ?, ?)",
                (mailbox, format_datetime(datetime.now(UTC)), to_bytes(element)),
            )

    def sent(self) -> list[tuple[str, str, ET.Element]]:
        with self._lock:
            rows = self._db.execute("SELECT mailbox, at, xml FROM sent ORDER BY id").fetchall()
        return [(row[0], row[1], from_bytes(row[2])) for row in rows]

"""The engine's memory: id map, mailbox mirror, sync states, runs and per-item events.

SQLite in WAL mode, one file per profile. Every step the runner takes is committed with
what it depends on (a pulled page with its sync state; a write with its link), so a kill
at any instant resumes without a duplicate and without a loss. The schema is versioned
(``PRAGMA user_version``) and migrated forward on open.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engine.exchange.mailbox.base import ChangePage, FolderKind, MailboxItem
from engine.exchange.reconcile import Link
from engine.exchange.rules import Origin
from engine.exchange.watch import WatchReport
from engine.storage import SqliteStore, epoch, moment

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        user_id INTEGER PRIMARY KEY, mailbox TEXT NOT NULL DEFAULT '',
        psa_cursor TEXT, reconciled_day TEXT, policy_hash TEXT,
        last_run_id INTEGER, last_outcome TEXT, last_error TEXT,
        last_attempt_at INTEGER, last_success_at INTEGER,
        guard_detail TEXT, allow_mass_delete INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE sync_states (
        user_id INTEGER NOT NULL, folder TEXT NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (user_id, folder));
    CREATE TABLE mirror (
        user_id INTEGER NOT NULL, item_id TEXT NOT NULL, folder TEXT NOT NULL,
        change_key TEXT NOT NULL, stamp TEXT, is_appointment INTEGER NOT NULL,
        subject TEXT, location TEXT, body TEXT, start INTEGER, end INTEGER,
        all_day INTEGER NOT NULL, private INTEGER NOT NULL, is_master INTEGER NOT NULL,
        master_id TEXT, digest TEXT NOT NULL,
        PRIMARY KEY (user_id, item_id));
    CREATE INDEX mirror_by_master ON mirror(user_id, master_id);
    CREATE TABLE links (
        user_id INTEGER NOT NULL, key TEXT NOT NULL, origin TEXT NOT NULL,
        item_id TEXT NOT NULL, change_key TEXT NOT NULL, folder TEXT NOT NULL,
        digest TEXT NOT NULL, psa_hash TEXT NOT NULL, start INTEGER, end INTEGER,
        detached INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, key));
    CREATE INDEX links_by_item ON links(user_id, item_id);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, trigger TEXT NOT NULL, dry_run INTEGER NOT NULL,
        started_at INTEGER NOT NULL, finished_at INTEGER, outcome TEXT,
        created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0, imported INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0,
        users INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE run_users (
        run_id INTEGER NOT NULL, user_id INTEGER NOT NULL, outcome TEXT NOT NULL,
        created INTEGER NOT NULL, updated INTEGER NOT NULL, deleted INTEGER NOT NULL,
        imported INTEGER NOT NULL, skipped INTEGER NOT NULL, errors INTEGER NOT NULL,
        pending INTEGER NOT NULL, message TEXT NOT NULL DEFAULT '',
        started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL,
        PRIMARY KEY (run_id, user_id));
    CREATE INDEX run_users_by_user ON run_users(user_id, run_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, run_id INTEGER, user_id INTEGER NOT NULL, at INTEGER NOT NULL,
        verb TEXT NOT NULL, outcome TEXT NOT NULL, key TEXT, item_id TEXT,
        rule TEXT NOT NULL, reason TEXT NOT NULL, error TEXT);
    CREATE INDEX events_by_user ON events(user_id, id);
    CREATE INDEX events_by_key ON events(user_id, key);
    CREATE INDEX events_by_item ON events(user_id, item_id);
    """,
    """
    CREATE TABLE notifications (
        user_id INTEGER NOT NULL, kind TEXT NOT NULL, day TEXT NOT NULL,
        sent_at INTEGER NOT NULL, PRIMARY KEY (user_id, kind, day));
    """,
    # The installation that stamped an item; rows of earlier versions hold stamps written
    # before installations were named, which NULL says.
    "ALTER TABLE mirror ADD COLUMN owner TEXT;",
    "ALTER TABLE mirror ADD COLUMN original_start INTEGER;",
    # Why each user was synced and how long its change took to arrive (issue 21): the
    # trigger, the earliest change time it carried (milliseconds), the seconds from it to
    # the first write; the latest report of the mailbox watcher.
    """
    ALTER TABLE run_users ADD COLUMN trigger TEXT NOT NULL DEFAULT '';
    ALTER TABLE run_users ADD COLUMN changed_at_ms INTEGER;
    ALTER TABLE run_users ADD COLUMN latency_s REAL;
    CREATE INDEX run_users_by_finish ON run_users(finished_at);
    CREATE TABLE watch_reports (
        api TEXT PRIMARY KEY, mode TEXT NOT NULL, watched INTEGER NOT NULL,
        lapsed TEXT NOT NULL, at INTEGER NOT NULL);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class UserState:
    user_id: int
    mailbox: str
    psa_cursor: str | None
    reconciled_day: str | None
    policy_hash: str | None
    last_run_id: int | None
    last_outcome: str | None
    last_error: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    guard_detail: str | None
    allow_mass_delete: bool


@dataclass(frozen=True)
class Event:
    id: int
    run_id: int | None
    user_id: int
    at: datetime
    verb: str
    outcome: str
    key: str | None
    item_id: str | None
    rule: str
    reason: str
    error: str | None


@dataclass(frozen=True)
class UserRun:
    run_id: int
    user_id: int
    outcome: str
    created: int
    updated: int
    deleted: int
    imported: int
    skipped: int
    errors: int
    pending: int
    message: str
    started_at: datetime
    finished_at: datetime
    trigger: str = ""
    """Why the user was synced (:mod:`engine.exchange.triggers`); the run's trigger."""
    changed_at: datetime | None = None
    """The earliest change the trigger carried for the user."""
    latency_s: float | None = None
    """Seconds from ``changed_at`` to the run's first write on the change's other side."""


@dataclass(frozen=True)
class RunRecord:
    id: int
    trigger: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    created: int
    updated: int
    deleted: int
    imported: int
    skipped: int
    errors: int
    users: int


class StateStore(SqliteStore):
    """Thread-safe access to one state database."""

    MIGRATIONS = MIGRATIONS
    DESCRIPTION = "state database"

    # -- users ----------------------------------------------------------------------------

    def user(self, user_id: int) -> UserState | None:
        rows = self._rows("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def users(self) -> dict[int, UserState]:
        return {row["user_id"]: _user(row) for row in self._rows("SELECT * FROM users")}

    def update_user(self, user_id: int, **columns: Any) -> None:
        for name, value in list(columns.items()):
            if isinstance(value, datetime):
                columns[name] = epoch(value)
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO users(user_id, {names}) VALUES (?, {marks})"
                f" ON CONFLICT(user_id) DO UPDATE SET {updates}",
                (user_id, *columns.values()),
            )

    # -- mailbox mirror and sync states ---------------------------------------------------

    def sync_state(self, user_id: int, folder: FolderKind) -> str | None:
        rows = self._rows(
            "SELECT state FROM sync_states WHERE user_id = ? AND folder = ?", (user_id, folder)
        )
        return rows[0]["state"] if rows else None

    def apply_page(self, user_id: int, folder: FolderKind, page: ChangePage) -> None:
        """A pulled page and its sync state, together or not at all."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM mirror WHERE user_id = ? AND (item_id = ? OR master_id = ?)",
                [(user_id, item_id, item_id) for item_id in page.deleted_ids],
            )
            _put_items(db, user_id, page.upserts)
            db.execute(
                "INSERT INTO sync_states(user_id, folder, state) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id, folder) DO UPDATE SET state = excluded.state",
                (user_id, folder, page.sync_state),
            )

    def adopt_ids(self, user_id: int, native_id: Callable[[str], str]) -> None:
        """The profile switched mailbox APIs: keep the user's links under the ids the new
        API gives the same items, and forget every folder's sync state and mirror."""
        with self.transaction() as db:
            rows = db.execute(
                "SELECT key, item_id FROM links WHERE user_id = ?", (user_id,)
            ).fetchall()
            db.executemany(
                "UPDATE links SET item_id = ? WHERE user_id = ? AND key = ?",
                [(native_id(row[1]), user_id, row[0]) for row in rows],
            )
            db.execute("DELETE FROM sync_states WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM mirror WHERE user_id = ?", (user_id,))

    def forget_mailbox(self, user_id: int, events: Sequence[EventDraft] = ()) -> None:
        """The user's mailbox changed: its mirror, sync states and links describe the old
        one; all of it goes, with the events that say why, in one transaction."""
        with self.transaction() as db:
            for table in ("sync_states", "mirror", "links"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
            _insert_events(db, user_id, events, epoch(datetime.now(UTC)))

    def reset_folder(self, user_id: int, folder: FolderKind) -> None:
        """Forget a folder's sync state and mirror so that the next pull starts afresh."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM sync_states WHERE user_id = ? AND folder = ?", (user_id, folder)
            )
            db.execute("DELETE FROM mirror WHERE user_id = ? AND folder = ?", (user_id, folder))

    def mirror(self, user_id: int) -> dict[str, MailboxItem]:
        return {
            row["item_id"]: _item(row)
            for row in self._rows("SELECT * FROM mirror WHERE user_id = ?", (user_id,))
        }

    def mirror_item(self, user_id: int, item_id: str) -> MailboxItem:
        """One mirrored item (a write touching one item reads one row, not the mirror)."""
        (row,) = self._rows(
            "SELECT * FROM mirror WHERE user_id = ? AND item_id = ?", (user_id, item_id)
        )
        return _item(row)

    def masters(self, user_id: int) -> list[str]:
        return [
            row[0]
            for row in self._rows(
                "SELECT item_id FROM mirror WHERE user_id = ? AND is_master = 1", (user_id,)
            )
        ]

    def replace_occurrences(
        self, user_id: int, master_ids: Sequence[str], occurrences: Sequence[MailboxItem]
    ) -> None:
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM mirror WHERE user_id = ? AND master_id = ?",
                [(user_id, master_id) for master_id in master_ids],
            )
            _put_items(db, user_id, occurrences)

    def put_item(self, user_id: int, item: MailboxItem) -> None:
        with self.transaction() as db:
            _put_items(db, user_id, [item])

    # -- links (the id map) ---------------------------------------------------------------

    def links(self, user_id: int) -> dict[str, Link]:
        return {
            row["key"]: _link(row)
            for row in self._rows("SELECT * FROM links WHERE user_id = ?", (user_id,))
        }

    def link_count(self, user_id: int) -> int:
        return self._rows("SELECT COUNT(*) FROM links WHERE user_id = ?", (user_id,))[0][0]

    def record(
        self,
        user_id: int,
        put_links: Sequence[Link] = (),
        drop_links: Sequence[str] = (),
        put_items: Sequence[MailboxItem] = (),
        drop_items: Sequence[str] = (),
        events: Sequence[EventDraft] = (),
    ) -> None:
        """The effects of one applied step, committed together."""
        now = epoch(datetime.now(UTC))
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO links(user_id, key, origin, item_id, change_key, folder,"
                " digest, psa_hash, start, end, detached, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        user_id,
                        link.key,
                        link.origin,
                        link.item_id,
                        link.change_key,
                        link.folder,
                        link.digest,
                        link.psa_hash,
                        epoch(link.start),
                        epoch(link.end),
                        int(link.detached),
                        now,
                    )
                    for link in put_links
                ],
            )
            db.executemany(
                "DELETE FROM links WHERE user_id = ? AND key = ?",
                [(user_id, key) for key in drop_links],
            )
            _put_items(db, user_id, put_items)
            db.executemany(
                "DELETE FROM mirror WHERE user_id = ? AND item_id = ?",
                [(user_id, item_id) for item_id in drop_items],
            )
            _insert_events(db, user_id, events, now)

    # -- runs and events ------------------------------------------------------------------

    def start_run(self, trigger: str, dry_run: bool) -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs(trigger, dry_run, started_at) VALUES (?, ?, ?)",
                (trigger, int(dry_run), epoch(datetime.now(UTC))),
            )
            return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, outcome: str, totals: dict[str, int], users: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, created = ?, updated = ?,"
                " deleted = ?, imported = ?, skipped = ?, errors = ?, users = ? WHERE id = ?",
                (
                    epoch(datetime.now(UTC)),
                    outcome,
                    totals["created"],
                    totals["updated"],
                    totals["deleted"],
                    totals["imported"],
                    totals["skipped"],
                    totals["errors"],
                    users,
                    run_id,
                ),
            )

    def record_user_run(self, run: UserRun) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO run_users(run_id, user_id, outcome, created, updated,"
                " deleted, imported, skipped, errors, pending, message, started_at, finished_at,"
                " trigger, changed_at_ms, latency_s)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    run.user_id,
                    run.outcome,
                    run.created,
                    run.updated,
                    run.deleted,
                    run.imported,
                    run.skipped,
                    run.errors,
                    run.pending,
                    run.message,
                    epoch(run.started_at),
                    epoch(run.finished_at),
                    run.trigger,
                    _ms(run.changed_at),
                    run.latency_s,
                ),
            )

    def latencies(self, trigger: str, since: datetime) -> list[float]:
        """The latencies of users' runs of this trigger finished since ``since``."""
        return [
            row[0]
            for row in self._rows(
                "SELECT latency_s FROM run_users WHERE finished_at >= ? AND trigger = ?"
                " AND latency_s IS NOT NULL ORDER BY latency_s",
                (epoch(since), trigger),
            )
        ]

    def save_watch_report(self, report: WatchReport) -> None:
        """The mailbox watcher's latest health (one row per mailbox API)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO watch_reports(api, mode, watched, lapsed, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    report.api,
                    report.mode,
                    report.watched,
                    json.dumps(dict(report.lapsed), sort_keys=True),
                    epoch(report.at),
                ),
            )

    def watch_report(self) -> WatchReport | None:
        """The latest report of the mailbox watcher, whichever API it watched."""
        rows = self._rows("SELECT * FROM watch_reports ORDER BY at DESC LIMIT 1")
        if not rows:
            return None
        row = rows[0]
        return WatchReport(
            api=row["api"],
            mode=row["mode"],
            watched=row["watched"],
            lapsed=json.loads(row["lapsed"]),
            at=moment(row["at"]),  # type: ignore[arg-type]
        )

    def add_events(self, user_id: int, events: Sequence[EventDraft]) -> None:
        with self.transaction() as db:
            _insert_events(db, user_id, events, epoch(datetime.now(UTC)))

    def runs(self, limit: int = 20) -> list[RunRecord]:
        return [
            RunRecord(
                id=row["id"],
                trigger=row["trigger"],
                dry_run=bool(row["dry_run"]),
                started_at=moment(row["started_at"]),  # type: ignore[arg-type]
                finished_at=moment(row["finished_at"]),
                outcome=row["outcome"],
                created=row["created"],
                updated=row["updated"],
                deleted=row["deleted"],
                imported=row["imported"],
                skipped=row["skipped"],
                errors=row["errors"],
                users=row["users"],
            )
            for row in self._rows("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        ]

    def user_runs(self, user_id: int, limit: int = 20) -> list[UserRun]:
        """One user's runs, newest first."""
        rows = self._rows(
            "SELECT * FROM run_users WHERE user_id = ? ORDER BY run_id DESC LIMIT ?",
            (user_id, limit),
        )
        return [_user_run(row) for row in rows]

    def recent_user_runs(self, limit: int = 12) -> dict[int, list[UserRun]]:
        """Every user's last ``limit`` runs, oldest first, in one query (the Users list and
        Sync activity draw them for thousands of users)."""
        rows = self._rows(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER"
            " (PARTITION BY user_id ORDER BY run_id DESC) AS age FROM run_users)"
            " WHERE age <= ? ORDER BY user_id, run_id",
            (limit,),
        )
        history: dict[int, list[UserRun]] = {}
        for row in rows:
            history.setdefault(row["user_id"], []).append(_user_run(row))
        return history

    def run_users(self, run_id: int) -> list[UserRun]:
        """Every user's part in one run."""
        rows = self._rows("SELECT * FROM run_users WHERE run_id = ? ORDER BY user_id", (run_id,))
        return [_user_run(row) for row in rows]

    def events(
        self,
        user_id: int | None = None,
        search: str | None = None,
        outcome: str | None = None,
        limit: int = 200,
    ) -> list[Event]:
        """Newest first; ``search`` matches a record key or an item id exactly."""
        clauses, params = [], []
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if search:
            clauses.append("(key = ? OR item_id = ?)")
            params += [search, search]
        if outcome:
            clauses.append("outcome = ?")
            params.append(outcome)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [
            _event(row)
            for row in self._rows(
                f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?", (*params, limit)
            )
        ]

    def history(self, user_id: int, query: str, limit: int = 200) -> list[Event]:
        """Every event of the records and items a search names, newest first.

        ``query`` is a record key (``appointment:12``), a mailbox item id, or part of an
        item's subject as the mailbox shows it; a key also finds its item's events and
        the other way round.
        """
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query) + "%"
        rows = self._rows(
            """
            WITH hits(key, item_id) AS (
                SELECT ?, ?
                UNION SELECT stamp, item_id FROM mirror WHERE user_id = ?
                    AND (subject LIKE ? ESCAPE '\\' OR item_id = ? OR stamp = ?)
                UNION SELECT key, item_id FROM links WHERE user_id = ?
                    AND (key = ? OR item_id = ?))
            SELECT * FROM events WHERE user_id = ? AND (
                key IN (SELECT key FROM hits) OR item_id IN (SELECT item_id FROM hits))
            ORDER BY id DESC LIMIT ?
            """,
            (
                query,
                query,
                user_id,
                pattern,
                query,
                query,
                user_id,
                query,
                query,
                user_id,
                limit,
            ),
        )
        return [_event(row) for row in rows]

    def subjects(self, user_id: int, item_ids: Iterable[str]) -> dict[str, str]:
        """The mailbox subjects of these items, as last pulled (absent once deleted)."""
        wanted = sorted(set(item_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(
                f"SELECT item_id, subject FROM mirror WHERE user_id = ? AND item_id IN ({marks})",
                (user_id, *chunk),
            ):
                found[row["item_id"]] = row["subject"] or ""
        return found

    def failed_items(self, user_id: int, limit: int = 5) -> list[Event]:
        """The newest failed item writes (a whole user's failed run is not an item)."""
        rows = self._rows(
            "SELECT * FROM events WHERE user_id = ? AND outcome = 'failed' AND verb != 'run'"
            " ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [_event(row) for row in rows]

    # -- error notifications (R18) ----------------------------------------------------------

    def claim_notification(self, user_id: int, kind: str, day: str, at: datetime) -> bool:
        """Reserve the one message for this user, error kind and day; False if taken."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO notifications(user_id, kind, day, sent_at)"
                " VALUES (?, ?, ?, ?)",
                (user_id, kind, day, epoch(at)),
            )
            return cursor.rowcount == 1

    def release_notification(self, user_id: int, kind: str, day: str) -> None:
        """Give a claim back when the message could not be sent, so a later run retries."""
        with self.transaction() as db:
            db.execute(
                "DELETE FROM notifications WHERE user_id = ? AND kind = ? AND day = ?",
                (user_id, kind, day),
            )

    def prune_events(self, keep: int = 200_000) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (keep,))


@dataclass(frozen=True)
class EventDraft:
    """An event before it is stored: what was done to which record, by which rule."""

    run_id: int | None
    verb: str
    outcome: str
    rule: str
    reason: str
    key: str | None = None
    item_id: str | None = None
    error: str | None = None


def _insert_events(
    db: sqlite3.Connection, user_id: int, events: Sequence[EventDraft], now: int | None
) -> None:
    db.executemany(
        "INSERT INTO events(run_id, user_id, at, verb, outcome, key, item_id, rule, reason, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                event.run_id,
                user_id,
                now,
                event.verb,
                event.outcome,
                event.key,
                event.item_id,
                event.rule,
                event.reason,
                event.error,
            )
            for event in events
        ],
    )


def _put_items(db: sqlite3.Connection, user_id: int, items: Iterable[MailboxItem]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO mirror(user_id, item_id, folder, change_key, stamp,"
        " is_appointment, subject, location, body, start, end, all_day, private, is_master,"
        " master_id, digest, owner, original_start)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                user_id,
                item.item_id,
                item.folder,
                item.change_key,
                item.stamp,
                int(item.is_appointment),
                item.subject,
                item.location,
                item.body,
                epoch(item.start),
                epoch(item.end),
                int(item.all_day),
                int(item.private),
                int(item.is_master),
                item.master_id,
                item.digest,
                item.owner,
                epoch(item.original_start),
            )
            for item in items
        ],
    )


def _item(row: sqlite3.Row) -> MailboxItem:
    return MailboxItem(
        item_id=row["item_id"],
        change_key=row["change_key"],
        folder=FolderKind(row["folder"]),
        stamp=row["stamp"],
        is_appointment=bool(row["is_appointment"]),
        subject=row["subject"],
        location=row["location"],
        body=row["body"],
        start=moment(row["start"]),
        end=moment(row["end"]),
        all_day=bool(row["all_day"]),
        private=bool(row["private"]),
        is_master=bool(row["is_master"]),
        master_id=row["master_id"],
        digest=row["digest"],
        owner=row["owner"],
        original_start=moment(row["original_start"]),
    )


def _link(row: sqlite3.Row) -> Link:
    return Link(
        key=row["key"],
        origin=Origin(row["origin"]),
        item_id=row["item_id"],
        change_key=row["change_key"],
        folder=FolderKind(row["folder"]),
        digest=row["digest"],
        psa_hash=row["psa_hash"],
        start=moment(row["start"]),
        end=moment(row["end"]),
        detached=bool(row["detached"]),
    )


def _user_run(row: sqlite3.Row) -> UserRun:
    return UserRun(
        run_id=row["run_id"],
        user_id=row["user_id"],
        outcome=row["outcome"],
        created=row["created"],
        updated=row["updated"],
        deleted=row["deleted"],
        imported=row["imported"],
        skipped=row["skipped"],
        errors=row["errors"],
        pending=row["pending"],
        message=row["message"],
        started_at=moment(row["started_at"]),  # type: ignore[arg-type]
        finished_at=moment(row["finished_at"]),  # type: ignore[arg-type]
        trigger=row["trigger"],
        changed_at=None
        if row["changed_at_ms"] is None
        else datetime.fromtimestamp(row["changed_at_ms"] / 1000, UTC),
        latency_s=row["latency_s"],
    )


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else round(moment.timestamp() * 1000)


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        run_id=row["run_id"],
        user_id=row["user_id"],
        at=moment(row["at"]),  # type: ignore[arg-type]
        verb=row["verb"],
        outcome=row["outcome"],
        key=row["key"],
        item_id=row["item_id"],
        rule=row["rule"],
        reason=row["reason"],
        error=row["error"],
    )


def _user(row: sqlite3.Row) -> UserState:
    return UserState(
        user_id=row["user_id"],
        mailbox=row["mailbox"],
        psa_cursor=row["psa_cursor"],
        reconciled_day=row["reconciled_day"],
        policy_hash=row["policy_hash"],
        last_run_id=row["last_run_id"],
        last_outcome=row["last_outcome"],
        last_error=row["last_error"],
        last_attempt_at=moment(row["last_attempt_at"]),
        last_success_at=moment(row["last_success_at"]),
        guard_detail=row["guard_detail"],
        allow_mass_delete=bool(row["allow_mass_delete"]),
    )

"""MS Teams' memory: the outbox of cards waiting for their channel, and the error log.

Its own SQLite file beside the mailbox state (``teams.sqlite`` in the profile's state
directory), migrated forward on open like it. Each step of a post (queued, sending, sent,
failed) is one committed transaction, and a failure is logged in the same transaction that
reschedules or fails its card, so a kill at any instant leaves a state delivery can resume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from engine.storage import SqliteStore

ERRORS_KEPT = 10_000
"""Error log lines kept: the newest, enough to read back weeks of a failing webhook."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id INTEGER NOT NULL,
        dedup_key TEXT, card TEXT NOT NULL, status TEXT NOT NULL,
        enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL, finished_at REAL,
        in_doubt INTEGER NOT NULL DEFAULT 0,
        UNIQUE (channel_id, dedup_key));
    CREATE INDEX outbox_by_status ON outbox(status, channel_id, id);
    CREATE INDEX outbox_by_finish ON outbox(channel_id, finished_at);
    CREATE TABLE error_log (
        id INTEGER PRIMARY KEY, at REAL NOT NULL, channel_id INTEGER NOT NULL,
        outbox_id INTEGER, status INTEGER, reason TEXT NOT NULL);
    """,
    # When a card's last POST began: a restarted delivery keeps each webhook's pace.
    "ALTER TABLE outbox ADD COLUMN attempted_at REAL;",
    # What the notification rules have seen: each source's cursor, and the service calls
    # as last read (to tell a new, a rescheduled, a re-staffed call apart).
    """
    CREATE TABLE cursors (source TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE service_calls (
        id INTEGER PRIMARY KEY, start INTEGER NOT NULL, end INTEGER NOT NULL,
        resources TEXT NOT NULL);
    """,
)


class PostStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    """Marked before the POST: found so after a crash, the webhook never had it whole."""
    POSTED = "posted"
    """Marked once the POST's body went out whole, before its answer is read."""
    SENT = "sent"
    FAILED = "failed"
    """Refused for good (an invalid card), or given up after its retries."""


UNFINISHED = (PostStatus.QUEUED, PostStatus.SENDING, PostStatus.POSTED)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    channel_id: int
    dedup_key: str | None
    card: dict[str, Any]
    status: PostStatus
    enqueued_at: float
    attempts: int
    next_attempt_at: float
    in_doubt: bool


@dataclass(frozen=True)
class CallSnapshot:
    """A service call as the rules last saw it: its time (epoch seconds) and resources."""

    start: int
    end: int
    resources: tuple[int, ...]


@dataclass(frozen=True)
class ErrorEntry:
    """One failed post, as the Error Log tab and ``msext teams log`` show it."""

    at: datetime
    channel_id: int
    status: int | None
    """The webhook's HTTP status; ``None`` when no answer came (a transport error)."""
    reason: str
    outbox_id: int | None


class TeamsState(SqliteStore):
    """Thread-safe access to one profile's MS Teams database."""

    MIGRATIONS = MIGRATIONS
    DESCRIPTION = "MS Teams state database"

    # -- the outbox -----------------------------------------------------------------------

    def enqueue(
        self, channel_id: int, card: dict[str, Any], dedup_key: str | None, now: float
    ) -> int | None:
        """Queue a card; its id, or ``None`` when this channel already had one with this
        key."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO outbox(channel_id, dedup_key, card, status, enqueued_at,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                (channel_id, dedup_key, json.dumps(card), PostStatus.QUEUED, now, now),
            )
            return cursor.lastrowid if cursor.rowcount == 1 else None

    def heads(self) -> list[OutboxItem]:
        """Each channel's oldest unfinished card: a channel's cards go out in order."""
        rows = self._rows(
            "SELECT * FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox"
            " WHERE status IN (?, ?, ?) GROUP BY channel_id) ORDER BY id",
            UNFINISHED,
        )
        return [_item(row) for row in rows]

    def item(self, item_id: int) -> OutboxItem | None:
        rows = self._rows("SELECT * FROM outbox WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    def items(self, channel_id: int | None = None) -> list[OutboxItem]:
        """Every card kept, oldest first (tests and diagnostics)."""
        where, params = (
            ("WHERE channel_id = ?", (channel_id,)) if channel_id is not None else ("", ())
        )
        return [
            _item(row) for row in self._rows(f"SELECT * FROM outbox {where} ORDER BY id", params)
        ]

    def mark_sending(self, item_id: int, now: float) -> None:
        """Committed before the POST: a crash after it leaves the post in doubt."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = ?, attempted_at = ? WHERE id = ?",
                (PostStatus.SENDING, now, item_id),
            )

    def last_attempts(self) -> dict[int, float]:
        """When each channel's last POST began."""
        rows = self._rows(
            "SELECT channel_id, MAX(attempted_at) FROM outbox WHERE attempted_at IS NOT NULL"
            " GROUP BY channel_id"
        )
        return {row[0]: row[1] for row in rows}

    def mark_posted(self, item_id: int) -> None:
        """Committed when the POST's body went out whole: from here the webhook has it."""
        with self.transaction() as db:
            db.execute("UPDATE outbox SET status = ? WHERE id = ?", (PostStatus.POSTED, item_id))

    def mark_sent(self, item_id: int, now: float) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = ?, finished_at = ? WHERE id = ?",
                (PostStatus.SENT, now, item_id),
            )

    def record_failure(
        self,
        item: OutboxItem,
        status: int | None,
        reason: str,
        now: float,
        retry_at: float | None,
    ) -> None:
        """Log a failed post and, together, queue its card again at ``retry_at`` or fail it
        for good (``None``)."""
        with self.transaction() as db:
            _log(db, now, item.channel_id, item.id, status, reason)
            if retry_at is None:
                db.execute(
                    "UPDATE outbox SET status = ?, finished_at = ?, attempts = attempts + 1"
                    " WHERE id = ?",
                    (PostStatus.FAILED, now, item.id),
                )
            else:
                db.execute(
                    "UPDATE outbox SET status = ?, next_attempt_at = ?, attempts = attempts + 1"
                    " WHERE id = ?",
                    (PostStatus.QUEUED, retry_at, item.id),
                )

    def recover(self, now: float) -> None:
        """Settle the cards a crash left between their POST's start and its answer.

        One whose body had not gone out whole (``sending``) is queued again: the webhook
        cannot have taken an incomplete request. One whose body had (``posted``) counts as
        sent: the webhook had it, and posting it again could show it twice. Both are logged.
        """
        with self.transaction() as db:
            rows = db.execute(
                "SELECT * FROM outbox WHERE status IN (?, ?) ORDER BY id",
                (PostStatus.SENDING, PostStatus.POSTED),
            ).fetchall()
            for row in rows:
                if row["status"] == PostStatus.SENDING:
                    reason = "msext stopped while posting this card, before the webhook had it"
                    reason += " whole; it is posted again"
                    db.execute(
                        "UPDATE outbox SET status = ?, in_doubt = 1 WHERE id = ?",
                        (PostStatus.QUEUED, row["id"]),
                    )
                else:
                    reason = "msext stopped before the webhook answered; the card had reached"
                    reason += " it whole and counts as posted"
                    db.execute(
                        "UPDATE outbox SET status = ?, finished_at = ?, in_doubt = 1 WHERE id = ?",
                        (PostStatus.SENT, now, row["id"]),
                    )
                _log(db, now, row["channel_id"], row["id"], None, reason)

    def sent_count(self, channel_id: int, since: float) -> int:
        """Cards posted to a channel since a moment (the Channels tab's last 24 hours)."""
        rows = self._rows(
            "SELECT COUNT(*) FROM outbox WHERE channel_id = ? AND status = ? AND finished_at >= ?",
            (channel_id, PostStatus.SENT, since),
        )
        return int(rows[0][0])

    def pending_count(self, channel_id: int | None = None) -> int:
        where = " AND channel_id = ?" if channel_id is not None else ""
        params = (*UNFINISHED, *(() if channel_id is None else (channel_id,)))
        rows = self._rows(f"SELECT COUNT(*) FROM outbox WHERE status IN (?, ?, ?){where}", params)
        return int(rows[0][0])

    # -- what the notification rules have seen ---------------------------------------------

    def cursor(self, source: str) -> str | None:
        rows = self._rows("SELECT value FROM cursors WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    def set_cursor(self, source: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO cursors(source, value) VALUES (?, ?)"
                " ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                (source, value),
            )

    def drop_cursor(self, source: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM cursors WHERE source = ?", (source,))
            if source == "service_calls":
                db.execute("DELETE FROM service_calls")

    def service_calls(self) -> dict[int, CallSnapshot]:
        """The service calls as last read."""
        return {
            row["id"]: CallSnapshot(row["start"], row["end"], tuple(json.loads(row["resources"])))
            for row in self._rows("SELECT * FROM service_calls")
        }

    def save_service_calls(self, calls: dict[int, CallSnapshot], cursor: str) -> None:
        """The calls as read now, with the PSA cursor they were read at, together."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO service_calls(id, start, end, resources)"
                " VALUES (?, ?, ?, ?)",
                [
                    (call_id, call.start, call.end, json.dumps(list(call.resources)))
                    for call_id, call in calls.items()
                ],
            )
            db.execute(
                "INSERT INTO cursors(source, value) VALUES ('service_calls', ?)"
                " ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                (cursor,),
            )

    # -- the error log ----------------------------------------------------------------------

    def log_error(
        self,
        channel_id: int,
        status: int | None,
        reason: str,
        now: float,
        outbox_id: int | None = None,
    ) -> None:
        with self.transaction() as db:
            _log(db, now, channel_id, outbox_id, status, reason)

    def errors(self, limit: int = 200, channel_id: int | None = None) -> list[ErrorEntry]:
        """The newest failed posts first."""
        where, params = (
            ("WHERE channel_id = ?", (channel_id,)) if channel_id is not None else ("", ())
        )
        rows = self._rows(
            f"SELECT * FROM error_log {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [
            ErrorEntry(
                datetime.fromtimestamp(row["at"], UTC),
                row["channel_id"],
                row["status"],
                row["reason"],
                row["outbox_id"],
            )
            for row in rows
        ]


def _log(
    db: Any, now: float, channel_id: int, outbox_id: int | None, status: int | None, reason: str
) -> None:
    db.execute(
        "INSERT INTO error_log(at, channel_id, outbox_id, status, reason) VALUES (?, ?, ?, ?, ?)",
        (now, channel_id, outbox_id, status, reason),
    )
    db.execute(
        "DELETE FROM error_log WHERE id <= (SELECT MAX(id) FROM error_log) - ?", (ERRORS_KEPT,)
    )


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row["id"],
        channel_id=row["channel_id"],
        dedup_key=row["dedup_key"],
        card=json.loads(row["card"]),
        status=PostStatus(row["status"]),
        enqueued_at=row["enqueued_at"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        in_doubt=bool(row["in_doubt"]),
    )

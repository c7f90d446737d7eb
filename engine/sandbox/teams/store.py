"""The Workflows peer's memory: its webhooks, the answers asked of them, what they received.

SQLite, so that the demo's console and a daemon posting through its own copy of the peer
see the same channels' cards (a file per profile); tests keep it in memory.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from engine.storage import SqliteStore

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, signature TEXT NOT NULL);
    CREATE TABLE faults (
        seq INTEGER PRIMARY KEY, webhook_id TEXT NOT NULL, status INTEGER NOT NULL,
        retry_after TEXT, remaining INTEGER);
    CREATE TABLE received (
        seq INTEGER PRIMARY KEY, webhook_id TEXT NOT NULL, at REAL NOT NULL,
        payload TEXT NOT NULL);
    CREATE INDEX received_by_webhook ON received(webhook_id, seq);
    """,
)


@dataclass(frozen=True)
class Webhook:
    id: str
    name: str
    signature: str


@dataclass(frozen=True)
class Fault:
    """An answer asked of a webhook instead of its normal one."""

    status: int
    retry_after: str | None


@dataclass(frozen=True)
class Received:
    """One accepted post: its cards, as a channel shows them."""

    at: float
    payload: dict[str, Any]

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [attachment["content"] for attachment in self.payload["attachments"]]


class WorkflowsStore(SqliteStore):
    MIGRATIONS = MIGRATIONS
    DESCRIPTION = "Workflows sandbox database"

    def add_webhook(self, name: str, webhook_id: str = "", signature: str = "") -> Webhook:
        """A new webhook; one of a given id and signature (a URL already handed out) is
        kept as it was when it exists."""
        webhook = Webhook(
            webhook_id or secrets.token_hex(16), name, signature or secrets.token_urlsafe(32)
        )
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO webhooks(id, name, signature) VALUES (?, ?, ?)",
                (webhook.id, webhook.name, webhook.signature),
            )
        return self.webhook(webhook.id) or webhook

    def webhook(self, webhook_id: str) -> Webhook | None:
        rows = self._rows("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return Webhook(rows[0]["id"], rows[0]["name"], rows[0]["signature"]) if rows else None

    def webhooks(self) -> list[Webhook]:
        rows = self._rows("SELECT * FROM webhooks ORDER BY rowid")
        return [Webhook(row["id"], row["name"], row["signature"]) for row in rows]

    def add_fault(
        self, webhook_id: str, status: int, times: int | None, retry_after: str | None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO faults(webhook_id, status, retry_after, remaining)"
                " VALUES (?, ?, ?, ?)",
                (webhook_id, status, retry_after, times),
            )

    def draw_fault(self, webhook_id: str) -> Fault | None:
        """The next answer asked of this webhook, used up by this call (``None``: normal)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM faults WHERE webhook_id = ? ORDER BY seq LIMIT 1", (webhook_id,)
            ).fetchone()
            if row is None:
                return None
            if row["remaining"] is not None:
                if row["remaining"] <= 1:
                    db.execute("DELETE FROM faults WHERE seq = ?", (row["seq"],))
                else:
                    db.execute(
                        "UPDATE faults SET remaining = remaining - 1 WHERE seq = ?", (row["seq"],)
                    )
            return Fault(row["status"], row["retry_after"])

    def clear_faults(self, webhook_id: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM faults WHERE webhook_id = ?", (webhook_id,))

    def receive(self, webhook_id: str, payload: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO received(webhook_id, at, payload) VALUES (?, ?, ?)",
                (webhook_id, time.time(), json.dumps(payload)),
            )

    def received(self, webhook_id: str, last: int | None = None) -> list[Received]:
        """What a webhook accepted, oldest first (the ``last`` ones only, when given)."""
        rows = self._rows(
            "SELECT at, payload FROM (SELECT * FROM received WHERE webhook_id = ?"
            " ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (webhook_id, -1 if last is None else last),
        )
        return [Received(row["at"], json.loads(row["payload"])) for row in rows]

"""msext's own happenings, published where any module may read them: a user's sync error, a
held mass deletion, AD sync conflicts and failures.

The module that sees a problem publishes it here; the modules that tell people about it
(the Teams notifications) read what was published since their cursor. Neither imports the
other. A happening carries a key that names it for de-duplication (a user's error of one
kind on one day is one happening, as the R18 e-mail is one message), so publishing the
same problem again, from a rerun or another process, adds nothing.

Its own SQLite file in the profile's state directory (``events.sqlite``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from engine.paths import ProfilePaths
from engine.storage import SqliteStore

KEPT = 10_000
"""Happenings kept: readers are far behind only when nobody reads at all."""


class HappeningKind(StrEnum):
    SYNC_ERROR = "sync_error"
    MASS_DELETION_HELD = "mass_deletion_held"
    ADSYNC_CONFLICT = "adsync_conflict"
    ADSYNC_FAILURE = "adsync_failure"


@dataclass(frozen=True)
class Happening:
    """One problem worth telling someone about, as its publisher words it."""

    kind: HappeningKind
    key: str
    """The same problem always gets the same key (see :func:`daily_key`)."""
    at: datetime
    subject: str
    """Whom or what it is about: a user with their mailbox, an organization."""
    message: str
    """What happened, in one line a person can act on."""
    facts: tuple[tuple[str, str], ...] = ()
    organization_id: int | None = None
    """The PSA company concerned, for rules with an organization condition."""
    id: int = field(default=0, compare=False)
    """Its place in the journal, once published."""


def daily_key(kind: str, subject: object, detail: str, day: str) -> str:
    """The key of a problem that is told once a day per subject and kind (R18's rule)."""
    return f"{kind}:{subject}:{detail}:{day}"


MIGRATIONS = (
    """
    CREATE TABLE happenings (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        at INTEGER NOT NULL, subject TEXT NOT NULL, message TEXT NOT NULL,
        facts TEXT NOT NULL, organization_id INTEGER);
    """,
)


class EventJournal(SqliteStore):
    """The published happenings, oldest first."""

    MIGRATIONS = MIGRATIONS
    DESCRIPTION = "events database"

    def publish(self, happenings: list[Happening]) -> int:
        """Adds the happenings not published before (by key); how many were new."""
        with self.transaction() as db:
            added = 0
            for happening in happenings:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO happenings(key, kind, at, subject, message, facts,"
                    " organization_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        happening.key,
                        happening.kind.value,
                        int(happening.at.timestamp()),
                        happening.subject,
                        happening.message,
                        json.dumps(happening.facts),
                        happening.organization_id,
                    ),
                )
                added += cursor.rowcount
            db.execute(
                "DELETE FROM happenings WHERE id <= (SELECT MAX(id) FROM happenings) - ?", (KEPT,)
            )
        return added

    def since(self, last_id: int, limit: int = 500) -> list[Happening]:
        """The happenings published after ``last_id``, oldest first."""
        return [
            Happening(
                kind=HappeningKind(row["kind"]),
                key=row["key"],
                at=datetime.fromtimestamp(row["at"], UTC),
                subject=row["subject"],
                message=row["message"],
                facts=tuple((title, value) for title, value in json.loads(row["facts"])),
                organization_id=row["organization_id"],
                id=row["id"],
            )
            for row in self._rows(
                "SELECT * FROM happenings WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
            )
        ]


def publish(paths: ProfilePaths, happenings: list[Happening]) -> int:
    """Publish into the profile's journal (opened for this once: runs publish rarely)."""
    if not happenings:
        return 0
    paths.ensure()
    journal = EventJournal(paths.events_db)
    try:
        return journal.publish(happenings)
    finally:
        journal.close()

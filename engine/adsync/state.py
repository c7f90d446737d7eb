"""AD Sync's memory, per organization: which contact each directory user is (mappings), the
conflicts of the last run and the admin's resolutions, every user's last outcome, the last
10 runs with their counts and error lines, and when the last scheduled or forced run was.

Its own SQLite file beside the mailbox state (``adsync.sqlite`` in the profile's state
directory), migrated forward on open like it. A mapping is committed with the batch of
writes that made it, so a killed run resumes without creating a contact twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.plan import UserPlan
from engine.storage import SqliteStore, epoch, moment

if TYPE_CHECKING:
    from engine.adsync.run import AdSyncResult

RUNS_KEPT = 10
"""Runs kept per organization, as the vendor's History tab shows them."""
ERROR_LINES_KEPT = 50
"""Error lines kept per run: enough to act on, bounded for a run where everything fails."""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE organizations (
        company_id INTEGER PRIMARY KEY, last_run_at INTEGER, last_trigger TEXT,
        guard_detail TEXT, allow_inactivations INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE mappings (
        company_id INTEGER NOT NULL, directory_id TEXT NOT NULL, contact_id INTEGER NOT NULL,
        PRIMARY KEY (company_id, directory_id), UNIQUE (company_id, contact_id));
    CREATE TABLE resolutions (
        company_id INTEGER NOT NULL, directory_id TEXT NOT NULL, kind TEXT NOT NULL,
        contact_id INTEGER, resolved_at INTEGER NOT NULL,
        PRIMARY KEY (company_id, directory_id));
    CREATE TABLE users (
        company_id INTEGER NOT NULL, directory_id TEXT NOT NULL, login TEXT NOT NULL,
        name TEXT NOT NULL, email TEXT NOT NULL, enabled INTEGER NOT NULL,
        change TEXT NOT NULL, contact_id INTEGER, step TEXT, conflict_kind TEXT,
        conflict_detail TEXT, candidates TEXT, detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (company_id, directory_id));
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL, trigger TEXT NOT NULL,
        dry_run INTEGER NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER,
        outcome TEXT, created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,
        reactivated INTEGER NOT NULL DEFAULT 0, inactivated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0, conflicts INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0, held INTEGER NOT NULL DEFAULT 0,
        users INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '');
    CREATE INDEX runs_by_company ON runs(company_id, id);
    CREATE TABLE run_errors (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, line TEXT NOT NULL);
    CREATE INDEX run_errors_by_run ON run_errors(run_id);
    """,
)

TOTALS = ("created", "updated", "reactivated", "inactivated", "unchanged", "conflicts", "errors")
"""The run totals the CLI prints and the History tab shows, in this order."""


@dataclass(frozen=True)
class AdSyncRun:
    id: int
    company_id: int
    trigger: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    """ok, conflicts, held (the guard), errors, failed (nothing written), running."""
    totals: dict[str, int]
    held: int
    users: int
    message: str
    errors: tuple[str, ...]


@dataclass(frozen=True)
class UserRecord:
    """A directory user's outcome in the organization's last run."""

    directory_id: str
    login: str
    name: str
    email: str
    enabled: bool
    change: str
    contact_id: int | None
    step: str | None
    conflict_kind: str | None
    conflict_detail: str | None
    candidates: tuple[int, ...]
    detail: str


@dataclass(frozen=True)
class OrganizationState:
    company_id: int
    last_run_at: datetime | None
    """The last scheduled or forced run (dry runs do not count): the 24 hours start here."""
    last_trigger: str | None
    guard_detail: str | None
    allow_inactivations: bool


class AdSyncState(SqliteStore):
    """Thread-safe access to one profile's AD Sync database."""

    MIGRATIONS = MIGRATIONS
    DESCRIPTION = "AD Sync state database"

    # -- organizations --------------------------------------------------------------------

    def organization(self, company_id: int) -> OrganizationState:
        rows = self._rows("SELECT * FROM organizations WHERE company_id = ?", (company_id,))
        if not rows:
            return OrganizationState(company_id, None, None, None, False)
        row = rows[0]
        return OrganizationState(
            company_id,
            moment(row["last_run_at"]),
            row["last_trigger"],
            row["guard_detail"],
            bool(row["allow_inactivations"]),
        )

    def _update_organization(self, company_id: int, **columns: object) -> None:
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO organizations(company_id, {names}) VALUES (?, {marks})"
                f" ON CONFLICT(company_id) DO UPDATE SET {updates}",
                (company_id, *columns.values()),
            )

    def allow_inactivations(self, company_id: int, allowed: bool = True) -> None:
        """The admin's override of the guard, for the organization's next run only."""
        self._update_organization(company_id, allow_inactivations=int(allowed))

    # -- mappings and resolutions ---------------------------------------------------------

    def mappings(self, company_id: int) -> dict[str, int]:
        return {
            row[0]: row[1]
            for row in self._rows(
                "SELECT directory_id, contact_id FROM mappings WHERE company_id = ?",
                (company_id,),
            )
        }

    def save_mappings(
        self, company_id: int, put: Mapping[str, int], drop: Iterable[str] = ()
    ) -> None:
        """Mappings found or made, and released ones, in one transaction. A contact belongs
        to one directory user: a new holder takes it over."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM mappings WHERE company_id = ? AND directory_id = ?",
                [(company_id, directory_id) for directory_id in drop],
            )
            db.executemany(
                "DELETE FROM mappings WHERE company_id = ? AND contact_id = ?"
                " AND directory_id != ?",
                [
                    (company_id, contact_id, directory_id)
                    for directory_id, contact_id in put.items()
                ],
            )
            db.executemany(
                "INSERT INTO mappings(company_id, directory_id, contact_id) VALUES (?, ?, ?)"
                " ON CONFLICT(company_id, directory_id) DO UPDATE SET"
                " contact_id = excluded.contact_id",
                [
                    (company_id, directory_id, contact_id)
                    for directory_id, contact_id in put.items()
                ],
            )

    def resolutions(self, company_id: int) -> dict[str, Resolution]:
        return {
            row["directory_id"]: Resolution(ResolutionKind(row["kind"]), row["contact_id"])
            for row in self._rows("SELECT * FROM resolutions WHERE company_id = ?", (company_id,))
        }

    def resolve(self, company_id: int, directory_id: str, resolution: Resolution) -> None:
        """The admin's answer to a user's conflict, applied from the next run on."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO resolutions(company_id, directory_id, kind, contact_id,"
                " resolved_at) VALUES (?, ?, ?, ?, ?)",
                (
                    company_id,
                    directory_id,
                    resolution.kind.value,
                    resolution.contact_id,
                    epoch(datetime.now(UTC)),
                ),
            )

    # -- users' outcomes ------------------------------------------------------------------

    def save_users(
        self, company_id: int, plans: Sequence[UserPlan], errors: Mapping[str, str]
    ) -> None:
        """Every user in scope with the outcome of this run (replacing the last run's)."""
        rows = []
        for plan in plans:
            user = plan.user
            if user is None:
                continue
            values = user.values
            conflict = plan.conflict
            name = " ".join(
                p for p in (values.first_name, values.middle_name, values.last_name) if p
            )
            rows.append(
                (
                    company_id,
                    plan.directory_id,
                    user.login,
                    name,
                    values.email,
                    int(user.enabled),
                    "error" if plan.directory_id in errors else plan.change.value,
                    plan.contact_id,
                    plan.step.value if plan.step else None,
                    conflict.kind.value if conflict else None,
                    conflict.detail if conflict else None,
                    json.dumps(list(conflict.contacts)) if conflict else None,
                    errors.get(plan.directory_id, plan.detail),
                )
            )
        with self.transaction() as db:
            db.execute("DELETE FROM users WHERE company_id = ?", (company_id,))
            db.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def set_user_contact(self, company_id: int, ids: Mapping[str, int]) -> None:
        """New contacts' ids, once written."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE users SET contact_id = ? WHERE company_id = ? AND directory_id = ?",
                [
                    (contact_id, company_id, directory_id)
                    for directory_id, contact_id in ids.items()
                ],
            )

    def users(self, company_id: int, conflicts_only: bool = False) -> list[UserRecord]:
        where = " AND change = 'conflict'" if conflicts_only else ""
        return [
            UserRecord(
                row["directory_id"],
                row["login"],
                row["name"],
                row["email"],
                bool(row["enabled"]),
                row["change"],
                row["contact_id"],
                row["step"],
                row["conflict_kind"],
                row["conflict_detail"],
                tuple(json.loads(row["candidates"] or "[]")),
                row["detail"],
            )
            for row in self._rows(
                f"SELECT * FROM users WHERE company_id = ?{where} ORDER BY name, login",
                (company_id,),
            )
        ]

    def counts(self) -> dict[int, dict[str, int]]:
        """Per organization: synced users (mapped) and open conflicts, for the list."""
        counts: dict[int, dict[str, int]] = {}
        for row in self._rows("SELECT company_id, COUNT(*) FROM mappings GROUP BY company_id"):
            counts.setdefault(row[0], {"synced": 0, "conflicts": 0})["synced"] = row[1]
        for row in self._rows(
            "SELECT company_id, COUNT(*) FROM users WHERE change = 'conflict' GROUP BY company_id"
        ):
            counts.setdefault(row[0], {"synced": 0, "conflicts": 0})["conflicts"] = row[1]
        return counts

    # -- runs -----------------------------------------------------------------------------

    def start_run(
        self, company_id: int, trigger: str, dry_run: bool, at: datetime | None = None
    ) -> int:
        """A run begins (``at``, else now); a real one (not a dry run) restarts the
        organization's 24 hours."""
        now = epoch(at or datetime.now(UTC))
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs(company_id, trigger, dry_run, started_at, outcome)"
                " VALUES (?, ?, ?, ?, 'running')",
                (company_id, trigger, int(dry_run), now),
            )
            run_id = int(cursor.lastrowid or 0)
            stale = db.execute(
                "SELECT id FROM runs WHERE company_id = ? ORDER BY id DESC LIMIT -1 OFFSET ?",
                (company_id, RUNS_KEPT),
            ).fetchall()
            db.executemany("DELETE FROM run_errors WHERE run_id = ?", stale)
            db.executemany("DELETE FROM runs WHERE id = ?", stale)
            if not dry_run:
                db.execute(
                    "INSERT INTO organizations(company_id, last_run_at, last_trigger)"
                    " VALUES (?, ?, ?) ON CONFLICT(company_id) DO UPDATE SET"
                    " last_run_at = excluded.last_run_at, last_trigger = excluded.last_trigger",
                    (company_id, now, trigger),
                )
        return run_id

    def finish_run(self, run_id: int, result: AdSyncResult, users: int) -> None:
        totals = [result.totals[name] for name in TOTALS]
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, created = ?, updated = ?,"
                " reactivated = ?, inactivated = ?, unchanged = ?, conflicts = ?, errors = ?,"
                " held = ?, users = ?, message = ? WHERE id = ?",
                (
                    epoch(datetime.now(UTC)),
                    result.outcome,
                    *totals,
                    result.held,
                    users,
                    result.message,
                    run_id,
                ),
            )
            db.executemany(
                "INSERT INTO run_errors(run_id, line) VALUES (?, ?)",
                [(run_id, line) for line in result.errors[:ERROR_LINES_KEPT]],
            )

    def record_guard(self, company_id: int, detail: str | None) -> None:
        """What the guard holds now (None: nothing); the override is used up by a run."""
        self._update_organization(company_id, guard_detail=detail, allow_inactivations=0)

    def runs(self, company_id: int, limit: int = RUNS_KEPT) -> list[AdSyncRun]:
        rows = self._rows(
            "SELECT * FROM runs WHERE company_id = ? ORDER BY id DESC LIMIT ?", (company_id, limit)
        )
        errors: dict[int, list[str]] = {}
        if rows:
            ids = [row["id"] for row in rows]
            for line in self._rows(
                f"SELECT run_id, line FROM run_errors WHERE run_id IN ({','.join('?' * len(ids))})"
                " ORDER BY rowid",
                ids,
            ):
                errors.setdefault(line[0], []).append(line[1])
        return [
            AdSyncRun(
                row["id"],
                row["company_id"],
                row["trigger"],
                bool(row["dry_run"]),
                moment(row["started_at"]) or datetime.now(UTC),
                moment(row["finished_at"]),
                row["outcome"],
                {name: row[name] for name in TOTALS},
                row["held"],
                row["users"],
                row["message"],
                tuple(errors.get(row["id"], ())),
            )
            for row in rows
        ]

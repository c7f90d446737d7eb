"""The demo after its first sync, as of a fixed moment, for screens that show run history.

The run itself is real (exchangelib against the emulator); only the wall-clock stamps the
state database took are set to one fixed moment afterwards, so that screenshots of runs and
events look the same on every day the suite runs.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time

from engine.exchange.sync import select_users, sync
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import DEMO_DAY

SYNCED_AT = datetime.combine(DEMO_DAY, time(9, 0), UTC)
STAMPED_COLUMNS = {
    "users": ("last_attempt_at", "last_success_at"),
    "runs": ("started_at", "finished_at"),
    "run_users": ("started_at", "finished_at"),
    "events": ("at",),
    "notifications": ("sent_at",),
}


def sync_demo(paths: ProfilePaths) -> None:
    """Sync every enabled demo user once, as if at :data:`SYNCED_AT`."""
    profile = Profile(paths)
    try:
        for _ in sync(profile, select_users(profile), trigger="schedule", clock=lambda: SYNCED_AT):
            pass
    finally:
        profile.close()
    moment = int(SYNCED_AT.timestamp())
    with sqlite3.connect(paths.state_db) as db:
        for table, columns in STAMPED_COLUMNS.items():
            assignments = ", ".join(
                f"{column} = CASE WHEN {column} IS NULL THEN NULL ELSE ? END" for column in columns
            )
            db.execute(f"UPDATE {table} SET {assignments}", (moment,) * len(columns))

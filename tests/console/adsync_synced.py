"""The demo after one AD sync run of each organization, as of a fixed moment, for the AD
Sync screens that show users, conflicts and runs.

The run is the engine's own (``sync_organization``); only the stamps it took are set to one
fixed moment afterwards, so that the screens look the same on every day the suite runs.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time

from engine.adsync.sync import enabled_organizations, sync_organization
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import DEMO_DAY

SYNCED_AT = datetime.combine(DEMO_DAY, time(6, 0), UTC)
STAMPED_COLUMNS = {
    "organizations": ("last_run_at",),
    "runs": ("started_at", "finished_at"),
    "resolutions": ("resolved_at",),
}


def adsync_demo(paths: ProfilePaths) -> None:
    """Run every enabled demo organization once, as if at :data:`SYNCED_AT`."""
    profile = Profile(paths)
    database = profile.adsync.path
    try:
        for company_id in enabled_organizations(profile):
            sync_organization(profile, company_id, trigger="schedule", now=SYNCED_AT)
    finally:
        profile.close()
    moment = int(SYNCED_AT.timestamp())
    with sqlite3.connect(database) as db:
        for table, columns in STAMPED_COLUMNS.items():
            assignments = ", ".join(
                f"{column} = CASE WHEN {column} IS NULL THEN NULL ELSE ? END" for column in columns
            )
            db.execute(f"UPDATE {table} SET {assignments}", (moment,) * len(columns))

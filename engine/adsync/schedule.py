"""AD Sync's schedule in ``msext daemon``: every enabled organization runs 24 hours after
its last scheduled or forced run, beside the mailbox sync's interval.

It polls rather than sleeps until the earliest due time: a forced run (the CLI, the
console) restarts an organization's 24 hours in the state database, and settings saved
meanwhile (an organization enabled) are read again before each look.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from engine.adsync.run import AdSyncResult, open_directory
from engine.adsync.sync import DirectoryFactory, due_organizations, sync_organization
from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.profile import Profile

log = logging.getLogger(__name__)

POLL_SECONDS = 60.0
WAIT_SECONDS = 60.0
"""How long a scheduled run waits for a run of the organization started elsewhere."""


def _now() -> datetime:
    return datetime.now(UTC)


def run_due(
    profile: Profile, now: datetime, directory_factory: DirectoryFactory = open_directory
) -> list[AdSyncResult]:
    """Run every organization that is due; one failing never stops the others."""
    profile.reload()
    results = []
    for company_id in due_organizations(profile, now):
        try:
            result = sync_organization(
                profile,
                company_id,
                trigger="schedule",
                wait=WAIT_SECONDS,
                directory_factory=directory_factory,
                now=now,
            )
        except UserError as error:
            log.warning("scheduled AD sync of organization %s skipped: %s", company_id, error)
            continue
        log.info(
            "AD sync of organization %s, run %s: %s %s %s",
            company_id,
            result.run_id,
            result.outcome,
            result.totals,
            result.message,
        )
        results.append(result)
    return results


def serve_schedule(
    paths: ProfilePaths,
    stop: threading.Event,
    clock: Callable[[], datetime] = _now,
    poll_seconds: float = POLL_SECONDS,
) -> None:
    """Until ``stop``: look for due organizations every ``poll_seconds``. Its own profile
    (connections are not shared with the mailbox sync's thread)."""
    profile = Profile(paths)
    try:
        while not stop.is_set():
            try:
                run_due(profile, clock())
            except Exception:
                log.exception("scheduled AD sync failed")
            stop.wait(poll_seconds)
    finally:
        profile.close()

"""AD Sync's 24-hour schedule in the daemon, and one run per organization at a time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.adsync.demo import demo_directory
from engine.adsync.schedule import run_due, serve_schedule
from engine.adsync.sync import due_organizations, organization_lock, sync_organization
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.run_lock import SyncBusyError
from tests.adsync.directory import ListDirectory
from tests.conftest import copy_profiles


@pytest.fixture
def demo(demo_template: Path, isolated_dirs: Path):
    copy_profiles(demo_template, isolated_dirs)
    profile = Profile(ProfilePaths.for_profile("demo"))
    yield profile
    profile.close()


def demo_factory(profile: Profile):
    """The demo's directories in process (the schedule is under test, not the reading)."""

    def open_directory(company_id, settings, paths, today):
        return ListDirectory.of_demo(
            demo_directory(company_id, profile.psa.company_contacts(company_id))
        )

    return open_directory


def test_every_24_hours_from_the_last_scheduled_or_forced_run(demo: Profile) -> None:
    """issue 19: each enabled organization runs every 24 hours counted from its last
    scheduled or forced run; a forced run restarts its 24 hours; a dry run does not."""
    factory = demo_factory(demo)
    start = datetime.now(UTC)
    first = run_due(demo, start, factory)
    assert sorted(r.company_id for r in first) == [1, 2]
    assert all(r.outcome != "failed" for r in first)
    assert run_due(demo, start + timedelta(hours=23), factory) == []
    forced = start + timedelta(hours=5)
    sync_organization(demo, 2, trigger="forced", directory_factory=factory, now=forced)
    sync_organization(demo, 1, dry_run=True, directory_factory=factory, now=forced)
    later = start + timedelta(hours=24, minutes=1)
    assert due_organizations(demo, later) == [1]
    assert [r.company_id for r in run_due(demo, later, factory)] == [1]
    assert demo.adsync.runs(1)[0].trigger == "schedule"


def test_two_runs_of_one_organization_never_overlap(demo: Profile) -> None:
    """issue 19: a run of an organization while another holds its lock is refused (exit 75
    on the command line); another organization still runs."""
    lock = organization_lock(demo.paths, 1)
    lock.acquire()
    try:
        with pytest.raises(SyncBusyError, match="AD sync of organization 1"):
            sync_organization(demo, 1, directory_factory=demo_factory(demo))
        other = sync_organization(demo, 2, directory_factory=demo_factory(demo))
        assert other.outcome != "failed"
    finally:
        lock.release()


def test_daemon_thread_runs_both_demo_directories(demo: Profile) -> None:
    """issue 19: `msext daemon`'s AD Sync schedule runs every enabled organization (the
    demo's Entra ID and LDAPS directories, served by the sandbox's peers on sockets)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=serve_schedule, args=(demo.paths, stop, lambda: datetime.now(UTC), 0.1)
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = {company_id: demo.adsync.runs(company_id) for company_id in (1, 2)}
            if all(r and r[0].finished_at for r in runs.values()):
                break
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=60)
    for company_id in (1, 2):
        (run,) = demo.adsync.runs(company_id)
        assert (run.trigger, run.outcome) == ("schedule", "conflicts"), run.errors
        assert run.totals["created"] == 3

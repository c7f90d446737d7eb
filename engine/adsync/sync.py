"""What ``msext adsync``, the daemon and the console's "Sync now" run: a profile's
organizations, each under its own lock, with its directory opened as its settings say.

The schedule is the vendor's: every 24 hours counted from the organization's last
scheduled or forced run (a dry run does not count).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta

from engine.adsync.model import Directory
from engine.adsync.run import AdSyncResult, Progress, open_directory, run_organization
from engine.errors import UserError
from engine.events import Happening, HappeningKind, daily_key, publish
from engine.followups import after_run
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.run_lock import RunLock
from engine.settings.adsync import AD_SYNC_INTERVAL_HOURS
from engine.settings.model import Settings

INTERVAL = timedelta(hours=AD_SYNC_INTERVAL_HOURS)
DirectoryFactory = Callable[[int, Settings, ProfilePaths, date], AbstractContextManager[Directory]]
"""Opens an organization's directory (company id, settings, paths, today)."""


def organization_lock(paths: ProfilePaths, company_id: int) -> RunLock:
    """One AD sync of an organization at a time, across processes (the daemon, the CLI,
    the console); the mailbox sync and other organizations are not held up."""
    return RunLock(paths, f"adsync-{company_id}", f"an AD sync of organization {company_id}")


def enabled_organizations(profile: Profile) -> list[int]:
    organizations = profile.settings.adsync.organizations
    return sorted(company_id for company_id, org in organizations.items() if org.enabled)


def find_organization(profile: Profile, query: str) -> int:
    """A configured organization by PSA company id or a unique part of its name."""
    configured = profile.settings.adsync.organizations
    text = query.strip()
    if text.isdigit() and int(text) in configured:
        return int(text)
    names = company_names(profile)
    matches = [
        company_id for company_id in configured if text.lower() in names.get(company_id, "").lower()
    ]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{c} {names.get(c, '')}".strip() for c in sorted(configured)) or "none"
    if not matches:
        raise UserError(f"no organization with AD sync matches {query!r} (configured: {known})")
    raise UserError(f"{query!r} matches several organizations ({known}); use the company id")


def company_names(profile: Profile) -> dict[int, str]:
    return {company.id: company.name for company in profile.psa.companies()}


def sync_organization(
    profile: Profile,
    company_id: int,
    trigger: str = "forced",
    dry_run: bool = False,
    allow_inactivations: bool = False,
    wait: float = 0.0,
    progress: Progress | None = None,
    directory_factory: DirectoryFactory = open_directory,
    now: datetime | None = None,
) -> AdSyncResult:
    """One run of one organization. A run that writes holds the organization's lock (else
    :class:`~engine.run_lock.SyncBusyError` after ``wait`` seconds); a dry run runs beside
    anything. A directory that cannot be opened or read is a failed run in the history.
    ``now`` is when the run starts (the scheduler's clock)."""
    now = now or datetime.now(UTC)
    settings = profile.settings
    org = settings.adsync.organizations.get(company_id)
    if org is None or not org.enabled:
        raise UserError(f"AD sync is not enabled for organization {company_id}")
    lock = organization_lock(profile.paths, company_id)
    if not dry_run:
        lock.acquire(wait)
    try:
        result = run_organization(
            company_id,
            org,
            lambda: directory_factory(company_id, settings, profile.paths, now.date()),
            profile.psa,
            profile.adsync,
            trigger,
            dry_run,
            allow_inactivations,
            progress,
            now,
        )
    finally:
        lock.release()
    if not dry_run:
        publish(profile.paths, happenings(result, company_names(profile).get(company_id, ""), now))
        after_run(profile, now)
    return result


def happenings(result: AdSyncResult, name: str, now: datetime) -> list[Happening]:
    """What a run leaves for a person to act on (``engine.events``): conflicts, inactivations
    the guard holds, a failed run; each told once a day per organization."""
    day = now.date().isoformat()
    subject = f"{name} (organization {result.company_id})".strip()
    facts = [(label.capitalize(), str(result.totals[label])) for label in ("created", "updated")]
    facts += [(label.capitalize(), str(result.totals[label])) for label in ("conflicts", "errors")]
    facts.append(("Run", str(result.run_id)))
    found = []
    if result.outcome in ("failed", "errors"):
        message = "; ".join(result.errors[:3]) or result.message or "the run failed"
        found.append((HappeningKind.ADSYNC_FAILURE, result.outcome, message))
    if result.held:
        found.append((HappeningKind.MASS_DELETION_HELD, "adsync", result.message))
    if result.totals["conflicts"]:
        count = result.totals["conflicts"]
        message = f"{count} directory user(s) need a decision on the organization's Users tab"
        found.append((HappeningKind.ADSYNC_CONFLICT, "conflicts", message))
    return [
        Happening(
            kind=kind,
            key=daily_key(kind, f"organization-{result.company_id}", detail, day),
            at=now,
            subject=subject,
            message=message,
            facts=tuple(facts),
            organization_id=result.company_id,
        )
        for kind, detail, message in found
    ]


def due_organizations(profile: Profile, now: datetime) -> list[int]:
    """Enabled organizations whose 24 hours since the last scheduled or forced run are up
    (or that never ran)."""
    due = []
    for company_id in enabled_organizations(profile):
        last = profile.adsync.organization(company_id).last_run_at
        if last is None or now >= last + INTERVAL:
            due.append(company_id)
    return due


def next_run(profile: Profile, company_id: int, now: datetime) -> datetime:
    last = profile.adsync.organization(company_id).last_run_at
    return now if last is None else max(now, last + INTERVAL)

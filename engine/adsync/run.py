"""One AD sync run of one organization: read the directory's scope and the PSA's contacts,
plan (engine.adsync.plan), then write the plan in batches of 500 through the PSA.

A directory that cannot be read fails the run before anything is written (a short read
taken for the scope would make contacts inactive). Each batch's mappings are committed as
soon as the PSA answers, so a run killed halfway resumes without creating a contact twice;
a write the PSA refuses is an error line of the run, and the rest of its batch is written.
Two runs of one organization never overlap (a lock per organization).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from engine.adsync.model import Directory, DirectoryError, DirectoryUser
from engine.adsync.plan import Change, Plan, UserPlan, plan_run
from engine.adsync.state import TOTALS, AdSyncState
from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.psa.contacts import WRITE_BATCH, ContactWriteError, PsaContacts
from engine.settings.adsync import DirectoryType, OrganizationSync
from engine.settings.model import Settings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (contacts written, contacts to write) after each batch."""
DirectoryOpener = Callable[[], AbstractContextManager[Directory]]
"""Opens the organization's directory for the run's read, and closes it after."""


@dataclass
class AdSyncResult:
    company_id: int
    run_id: int
    dry_run: bool
    outcome: str
    """ok, conflicts, held, errors, or failed (the directory or the PSA could not be read)."""
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTALS, 0))
    held: int = 0
    message: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def as_dict(self) -> dict[str, object]:
        return {
            "organization": self.company_id,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            **self.totals,
            "held": self.held,
            "message": self.message,
            "error_lines": self.errors,
        }


def run_organization(
    company_id: int,
    org: OrganizationSync,
    directory: DirectoryOpener,
    psa: PsaContacts,
    state: AdSyncState,
    trigger: str = "forced",
    dry_run: bool = False,
    allow_inactivations: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> AdSyncResult:
    """Plan and apply one run (starting ``now``, the scheduler's clock); the caller holds
    the organization's lock. ``directory`` opens the organization's directory (a failure
    to open it fails the run)."""
    run_id = state.start_run(company_id, trigger, dry_run, now)
    result = AdSyncResult(company_id, run_id, dry_run, "failed")
    try:
        users = _read_scope(directory)
        contacts = psa.company_contacts(company_id)
    except (DirectoryError, UserError) as error:
        result.message = str(error)
        result.errors.append(str(error))
        result.totals["errors"] = 1
        state.finish_run(run_id, result, 0)
        return result
    # Compared as the PSA would keep them: what it cannot hold is not planned every run.
    users = [_as_stored(user, psa) for user in users]
    allowed = allow_inactivations or state.organization(company_id).allow_inactivations
    mappings = state.mappings(company_id)
    plan = plan_run(
        users,
        contacts,
        mappings,
        state.resolutions(company_id),
        org.fields,
        allow_inactivations=allowed,
    )
    errors: dict[str, str] = {
        p.directory_id: p.detail for p in plan.users if p.change is Change.INCOMPLETE
    }
    plans = plan.users
    if not dry_run:
        found = {d: c for d, c in plan.mappings.items() if mappings.get(d) != c}
        state.save_mappings(company_id, found, plan.released)
        try:
            plans = _apply(company_id, plan, psa, state, errors, progress)
        except BaseException as error:
            result.message = str(error) or type(error).__name__
            result.errors.append(result.message)
            result.totals["errors"] += 1
            state.finish_run(run_id, result, len(users))
            raise
        state.record_guard(company_id, plan.guard)
    state.save_users(company_id, plans, errors)
    counts = dict(plan.counts)
    failed = [p for p in plans if p.directory_id in errors]
    for p in failed:
        counts[p.change] -= 1  # an error instead
    result.errors = [
        f"{p.user.login if p.user else p.directory_id}: {errors[p.directory_id]}" for p in failed
    ]
    result.totals = _totals(counts, len(errors))
    result.held = counts.get(Change.HELD, 0)
    result.message = plan.guard or ""
    result.outcome = _outcome(result)
    state.finish_run(run_id, result, len(users))
    return result


def _as_stored(user: DirectoryUser, psa: PsaContacts) -> DirectoryUser:
    stored = psa.stored_values(user.values)
    return user if stored == user.values else replace(user, values=stored)


def _read_scope(directory: DirectoryOpener) -> list[DirectoryUser]:
    with directory() as opened:
        return list(opened.users())


def _apply(
    company_id: int,
    plan: Plan,
    psa: PsaContacts,
    state: AdSyncState,
    errors: dict[str, str],
    progress: Progress | None,
) -> list[UserPlan]:
    """Write the plan's contacts in batches; the users' plans with new contacts' ids."""
    pending = plan.writes()
    created: dict[str, int] = {}
    done = 0
    for start in range(0, len(pending), WRITE_BATCH):
        batch = pending[start : start + WRITE_BATCH]
        while batch:
            batch = _write_batch(company_id, batch, psa, state, created, errors)
        done += len(pending[start : start + WRITE_BATCH])
        if progress is not None:
            progress(done, len(pending))
    return [
        replace(p, contact_id=created[p.directory_id]) if p.directory_id in created else p
        for p in plan.users
    ]


def _write_batch(
    company_id: int,
    batch: list[UserPlan],
    psa: PsaContacts,
    state: AdSyncState,
    created: dict[str, int],
    errors: dict[str, str],
) -> list[UserPlan]:
    """One PSA request; what is left to write of the batch (after a refused write)."""
    writes = [p.write for p in batch if p.write is not None]
    left: list[UserPlan] = []
    try:
        ids = psa.write_contacts(company_id, writes)
    except ContactWriteError as error:
        # The writes before the refused one were applied (REST) or undone with it
        # (embedded): those undone are written again, without the refused one.
        ids = list(error.written)
        errors[batch[error.index].directory_id] = str(error)
        left = batch[len(ids) : error.index] + batch[error.index + 1 :]
    except UserError as error:
        for p in batch:
            errors[p.directory_id] = str(error)
        return []
    new = {
        p.directory_id: contact_id
        for p, contact_id in zip(batch, ids, strict=False)
        if p.contact_id is None
    }
    if new:
        state.save_mappings(company_id, new)
        created.update(new)
    return left


def _totals(counts: dict[Change, int], errors: int) -> dict[str, int]:
    return {
        "created": counts.get(Change.CREATED, 0),
        "updated": counts.get(Change.UPDATED, 0),
        "reactivated": counts.get(Change.REACTIVATED, 0),
        "inactivated": counts.get(Change.INACTIVATED, 0),
        "unchanged": counts.get(Change.UNCHANGED, 0),
        "conflicts": counts.get(Change.CONFLICT, 0),
        "errors": errors,
    }


def _outcome(result: AdSyncResult) -> str:
    if result.totals["errors"]:
        return "errors"
    if result.held:
        return "held"
    return "conflicts" if result.totals["conflicts"] else "ok"


@contextmanager
def open_directory(
    company_id: int, settings: Settings, paths: ProfilePaths, today: date
) -> Iterator[Directory]:
    """The organization's directory reader, as its settings say (Entra ID or LDAPS); on a
    sandbox profile, the emulator standing in for the demo's directory runs meanwhile."""
    organization = settings.adsync.organization(company_id)
    with ExitStack() as stack:
        if organization.directory is DirectoryType.ENTRA_ID:
            from engine.adsync.entra import open_entra_id
            from engine.adsync.entra_sandbox import demo_tenant_endpoints

            endpoints = demo_tenant_endpoints(stack, settings, paths)
            directory: Directory = open_entra_id(
                company_id, organization, paths, today, **endpoints
            )
        else:
            from engine.adsync.ldaps import open_ldaps
            from engine.adsync.ldaps_sandbox import demo_domain_endpoints

            endpoints = demo_domain_endpoints(stack, settings, paths)
            directory = open_ldaps(company_id, organization, paths, today, **endpoints)
        stack.callback(directory.close)
        yield directory

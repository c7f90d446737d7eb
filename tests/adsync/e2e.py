"""What the end-to-end AD Sync tests over each directory share: the demo profile reading
its directory from a peer that outlives the runs, over either PSA source, and the checks
every directory must pass."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from engine.adsync.demo import DemoCase, DemoDirectoryUser, demo_directory
from engine.adsync.entra_sandbox import seeded_contacts
from engine.adsync.run import AdSyncResult
from engine.adsync.sync import sync_organization
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.e2e.harness import serve_rest_psa


def contact_rows(paths: ProfilePaths, company_id: int) -> list[tuple]:
    """Every contact of the organization as the PSA holds it (seq moves on any write)."""
    with sqlite3.connect(paths.psa_db) as db:
        return db.execute(
            "SELECT * FROM contacts WHERE company_id = ? ORDER BY id", (company_id,)
        ).fetchall()


@contextmanager
def demo_profile(psa: str, settings: Mapping[str, str]) -> Iterator[Profile]:
    """The demo profile (already copied into this test's directories) pointed at a test's
    own directory peer by ``settings``, the mailbox side off, over the embedded PSA or the
    REST peer (``psa``: embedded or rest)."""
    paths = ProfilePaths.for_profile("demo")
    rest = serve_rest_psa(paths, "api-secret-e2e") if psa == "rest" else None
    store = Profile(paths).store
    for key, value in {
        "exchange.general.enabled": "false",
        "sandbox.enabled": "false",
        **settings,
    }.items():
        store.set_value(key, value)
    profile = Profile(paths)
    try:
        yield profile
    finally:
        profile.close()
        if rest is not None:
            rest.stop()


def demo_users(company_id: int, case: DemoCase) -> list[DemoDirectoryUser]:
    return [e for e in demo_directory(company_id, seeded_contacts(company_id)) if e.case is case]


def check_demo_then_idle_run(profile: Profile, company_id: int) -> None:
    """The demo's planted cases (3 new users, the shared e-mail's 2 conflicts, the disabled
    user and the one out of scope made inactive), then a run that writes nothing."""
    first = sync_organization(profile, company_id)
    assert first.outcome == "conflicts", first.errors
    assert first.totals["created"] == 3 and first.totals["conflicts"] == 2
    assert first.totals["inactivated"] == 2
    assert first.totals["errors"] == 0
    rows = contact_rows(profile.paths, company_id)
    second = sync_organization(profile, company_id)
    assert contact_rows(profile.paths, company_id) == rows, "the idle run wrote"
    assert second.totals["unchanged"] == sum(
        first.totals[name] for name in ("created", "updated", "inactivated", "unchanged")
    )


def check_leaving_and_returning(
    profile: Profile,
    company_id: int,
    leave: Callable[[DemoDirectoryUser], None],
    come_back: Callable[[DemoDirectoryUser], None],
) -> None:
    """A user who leaves the scope makes its contact inactive; back, the same contact is
    reactivated (the mapping is kept)."""
    sync_organization(profile, company_id)
    leaver = demo_users(company_id, DemoCase.EMAIL_MATCH)[0]
    leave(leaver)
    gone = sync_organization(profile, company_id)
    assert gone.totals["inactivated"] == 1
    contacts = {c.id: c for c in profile.psa.company_contacts(company_id)}
    assert not contacts[leaver.contact_id].active
    come_back(leaver)
    back = sync_organization(profile, company_id)
    assert back.totals["reactivated"] == 1
    assert profile.adsync.mappings(company_id)[leaver.user.directory_id] == leaver.contact_id


def failed_run_writes_nothing(profile: Profile, company_id: int) -> AdSyncResult:
    """A run whose directory read fails: nothing written, nothing mapped beyond the
    demo's seeded mapping; the result, for the test to check why."""
    rows = contact_rows(profile.paths, company_id)
    result = sync_organization(profile, company_id)
    assert result.outcome == "failed" and result.totals["errors"] == 1
    assert contact_rows(profile.paths, company_id) == rows
    assert profile.adsync.mappings(company_id) == {
        e.user.directory_id: e.contact_id for e in demo_users(company_id, DemoCase.OUT_OF_SCOPE)
    }
    return result

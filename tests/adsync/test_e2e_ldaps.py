"""AD Sync end to end over LDAPS: the LDAPS reader against the LDAP peer's copy of the
demo's domain on a socket, configured as a real domain controller would be (its address,
its CA file), writing the demo PSA's contacts through the embedded PSA and through the
PSA's REST API (the REST peer)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.demo import LDAPS_COMPANY_ID, DemoCase, demo_directory
from engine.adsync.entra_sandbox import seeded_contacts
from engine.adsync.ldaps_sandbox import DEMO_CA_FILE, start_demo_domain
from engine.adsync.sync import sync_organization
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.ldap import AdUser, LdapPeer
from tests.conftest import copy_profiles
from tests.e2e.harness import serve_rest_psa

ORG = LDAPS_COMPANY_ID


def contact_rows(paths: ProfilePaths) -> list[tuple]:
    """Every contact of the organization as the PSA holds it (seq moves on any write)."""
    with sqlite3.connect(paths.psa_db) as db:
        return db.execute(
            "SELECT * FROM contacts WHERE company_id = ? ORDER BY id", (ORG,)
        ).fetchall()


@pytest.fixture(params=["embedded", "rest"])
def world(request, demo_template: Path, isolated_dirs: Path) -> Iterator[tuple[Profile, LdapPeer]]:
    """The demo profile reading the demo's domain from an LDAP peer that outlives the runs
    (tests change its directory between them), at 127.0.0.1 (its certificate names it) and
    trusted through the CA file, over either PSA source."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    peer = start_demo_domain(paths)
    rest = serve_rest_psa(paths, "api-secret-e2e") if request.param == "rest" else None
    store = Profile(paths).store
    store.set_value("exchange.general.enabled", "false")
    store.set_value("sandbox.enabled", "false")
    store.set_value(f"adsync.organizations.{ORG}.ldaps.host", "127.0.0.1")
    store.set_value(f"adsync.organizations.{ORG}.ldaps.port", str(peer.port))
    store.set_value(f"adsync.organizations.{ORG}.ldaps.ca_file", str(paths.data_dir / DEMO_CA_FILE))
    profile = Profile(paths)
    yield profile, peer
    profile.close()
    peer.stop()
    if rest is not None:
        rest.stop()


def test_demo_over_ldaps_then_idle_run_writes_nothing(world) -> None:
    """issue 19 end to end over LDAPS, both PSA sources: the demo's planted cases, then a
    second run with no directory change writes nothing."""
    profile, _ = world
    first = sync_organization(profile, ORG)
    assert first.outcome == "conflicts", first.errors
    assert first.totals["created"] == 3 and first.totals["conflicts"] == 2
    assert first.totals["inactivated"] == 2  # the disabled user, the one outside OU=Staff
    assert first.totals["errors"] == 0
    rows = contact_rows(profile.paths)
    second = sync_organization(profile, ORG)
    assert contact_rows(profile.paths) == rows, "the idle run wrote"
    assert second.totals["unchanged"] == sum(
        first.totals[name] for name in ("created", "updated", "inactivated", "unchanged")
    )


def test_leaving_the_base_dn_and_returning_over_ldaps(world) -> None:
    """issue 19: a user moved out of the base DN makes its contact inactive; moved back,
    the same contact is reactivated (the mapping is kept, by objectGUID)."""
    profile, peer = world
    sync_organization(profile, ORG)
    leaver = next(
        entry
        for entry in demo_directory(ORG, seeded_contacts(ORG))
        if entry.case is DemoCase.EMAIL_MATCH
    )
    peer.put_users([AdUser(leaver.user, ou="Former Staff")])
    gone = sync_organization(profile, ORG)
    assert gone.totals["inactivated"] == 1
    contacts = {c.id: c for c in profile.psa.company_contacts(ORG)}
    assert not contacts[leaver.contact_id].active
    peer.put_users([AdUser(leaver.user, ou="Staff")])
    back = sync_organization(profile, ORG)
    assert back.totals["reactivated"] == 1
    assert profile.adsync.mappings(ORG)[leaver.user.directory_id] == leaver.contact_id


def test_a_dropped_connection_writes_nothing(world) -> None:
    """issue 19: a directory read cut by the domain controller fails the run, writes
    nothing, and the run says why."""
    profile, peer = world
    rows = contact_rows(profile.paths)
    peer.faults.drop_on_page = 1
    result = sync_organization(profile, ORG)
    assert result.outcome == "failed" and result.totals["errors"] == 1
    assert result.errors[0].startswith(f"reading 127.0.0.1:{peer.port} failed: "), result.errors
    assert contact_rows(profile.paths) == rows

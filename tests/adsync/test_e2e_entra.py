"""AD Sync end to end over Microsoft Graph: the Entra ID reader against the Graph peer's
directory on a socket, writing the demo PSA's contacts through the embedded PSA and
through the PSA's REST API (the REST peer)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.demo import ENTRA_COMPANY_ID, ENTRA_GROUP_ID, DemoCase, demo_directory
from engine.adsync.entra_sandbox import seeded_contacts, start_demo_tenant
from engine.adsync.sync import sync_organization
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.graph import GraphEmulator
from tests.conftest import copy_profiles
from tests.e2e.harness import serve_rest_psa

ORG = ENTRA_COMPANY_ID


def contact_rows(paths: ProfilePaths) -> list[tuple]:
    """Every contact of the organization as the PSA holds it (seq moves on any write)."""
    with sqlite3.connect(paths.psa_db) as db:
        return db.execute(
            "SELECT * FROM contacts WHERE company_id = ? ORDER BY id", (ORG,)
        ).fetchall()


@pytest.fixture(params=["embedded", "rest"])
def world(
    request, demo_template: Path, isolated_dirs: Path
) -> Iterator[tuple[Profile, GraphEmulator]]:
    """The demo profile reading the demo tenant from a Graph peer that outlives the runs
    (tests change its directory between them), over either PSA source."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    peer = start_demo_tenant(paths)
    rest = serve_rest_psa(paths, "api-secret-e2e") if request.param == "rest" else None
    store = Profile(paths).store
    store.set_value("exchange.general.enabled", "false")
    store.set_value("sandbox.enabled", "false")
    store.set_value(f"adsync.organizations.{ORG}.entra_id.graph_url", peer.url)
    store.set_value(f"adsync.organizations.{ORG}.entra_id.token_url", peer.token_url)
    profile = Profile(paths)
    yield profile, peer
    profile.close()
    peer.stop()
    if rest is not None:
        rest.stop()


def test_demo_over_graph_then_idle_run_writes_nothing(world) -> None:
    """issue 19 end to end over Graph, both PSA sources: the demo's planted cases, then a
    second run with no directory change writes nothing."""
    profile, _ = world
    first = sync_organization(profile, ORG)
    assert first.outcome == "conflicts", first.errors
    assert first.totals["created"] == 3 and first.totals["conflicts"] == 2
    assert first.totals["inactivated"] == 2  # the disabled user, the one removed from the group
    assert first.totals["errors"] == 0
    rows = contact_rows(profile.paths)
    second = sync_organization(profile, ORG)
    assert contact_rows(profile.paths) == rows, "the idle run wrote"
    assert second.totals["unchanged"] == sum(
        first.totals[name] for name in ("created", "updated", "inactivated", "unchanged")
    )


def test_leaving_the_group_and_returning_over_graph(world) -> None:
    """issue 19: a user removed from the group makes its contact inactive; added back, the
    same contact is reactivated (the mapping is kept)."""
    profile, peer = world
    sync_organization(profile, ORG)
    leaver = next(
        entry
        for entry in demo_directory(ORG, seeded_contacts(ORG))
        if entry.case is DemoCase.EMAIL_MATCH
    )
    peer.tenant.remove_member(ENTRA_GROUP_ID, leaver.user.directory_id)
    gone = sync_organization(profile, ORG)
    assert gone.totals["inactivated"] == 1
    contacts = {c.id: c for c in profile.psa.company_contacts(ORG)}
    assert not contacts[leaver.contact_id].active
    peer.tenant.add_member(ENTRA_GROUP_ID, leaver.user.directory_id)
    back = sync_organization(profile, ORG)
    assert back.totals["reactivated"] == 1
    assert profile.adsync.mappings(ORG)[leaver.user.directory_id] == leaver.contact_id


def test_failed_page_writes_nothing(world) -> None:
    """issue 19: a directory read that fails (Graph answers 500) writes nothing and
    the run says why."""
    profile, peer = world
    rows = contact_rows(profile.paths)
    peer.fail(50)  # every read of the members answers 500, retries included
    result = sync_organization(profile, ORG)
    assert result.outcome == "failed" and result.totals["errors"] == 1
    assert contact_rows(profile.paths) == rows
    assert profile.adsync.mappings(ORG) == {
        e.user.directory_id: e.contact_id
        for e in demo_directory(ORG, seeded_contacts(ORG))
        if e.case is DemoCase.OUT_OF_SCOPE
    }


def test_cli_run_resolve_run(demo_template: Path, isolated_dirs: Path) -> None:
    """issue 19 CLI on the demo (sandbox): `msext adsync run 1` exits 1 with the shared
    e-mail's conflicts, `msext adsync resolve` answers both, the next run exits 0."""
    copy_profiles(demo_template, isolated_dirs)

    def msext(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console.cli", "--profile", "demo", "adsync", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = msext("run", "1", "--json")
    assert first.returncode == 1, first.stderr
    assert '"conflicts": 2' in first.stdout
    listed = msext("users", "1", "--conflicts", "--json")
    assert listed.returncode == 1
    person, desk = (
        entry
        for entry in demo_directory(ORG, seeded_contacts(ORG))
        if entry.case is DemoCase.SHARED_EMAIL
    )
    assert person.user.login in listed.stdout and desk.user.login in listed.stdout
    assert (
        msext("resolve", "1", person.user.login, "--contact", str(person.contact_id)).returncode
        == 0
    )
    assert msext("resolve", "1", desk.user.login, "--exclude").returncode == 0
    assert msext("resolve", "1", desk.user.login, "--contact", "999999").returncode == 2
    last = msext("run", "1")
    assert last.returncode == 0, last.stdout + last.stderr
    assert msext("list", "--json").returncode == 0

"""AD Sync end to end over Microsoft Graph: the Entra ID reader against the Graph peer's
directory on a socket, writing the demo PSA's contacts through the embedded PSA and
through the PSA's REST API (the REST peer)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.demo import ENTRA_COMPANY_ID, ENTRA_GROUP_ID, DemoCase
from engine.adsync.entra_sandbox import start_demo_tenant
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.graph import GraphEmulator
from tests.adsync.e2e import (
    check_demo_then_idle_run,
    check_leaving_and_returning,
    demo_profile,
    demo_users,
    failed_run_writes_nothing,
)
from tests.conftest import copy_profiles

ORG = ENTRA_COMPANY_ID


@pytest.fixture(params=["embedded", "rest"])
def world(
    request, demo_template: Path, isolated_dirs: Path
) -> Iterator[tuple[Profile, GraphEmulator]]:
    """The demo profile reading the demo tenant from a Graph peer that outlives the runs
    (tests change its directory between them), over either PSA source."""
    copy_profiles(demo_template, isolated_dirs)
    peer = start_demo_tenant(ProfilePaths.for_profile("demo"))
    settings = {
        f"adsync.organizations.{ORG}.entra_id.graph_url": peer.url,
        f"adsync.organizations.{ORG}.entra_id.token_url": peer.token_url,
    }
    with demo_profile(request.param, settings) as profile:
        yield profile, peer
    peer.stop()


def test_demo_over_graph_then_idle_run_writes_nothing(world) -> None:
    """issue 19 end to end over Graph, both PSA sources: the demo's planted cases (the
    disabled user and the one removed from the group made inactive), then a second run
    with no directory change writes nothing."""
    check_demo_then_idle_run(world[0], ORG)


def test_leaving_the_group_and_returning_over_graph(world) -> None:
    """issue 19: a user removed from the group makes its contact inactive; added back, the
    same contact is reactivated (the mapping is kept)."""
    profile, peer = world
    check_leaving_and_returning(
        profile,
        ORG,
        lambda user: peer.tenant.remove_member(ENTRA_GROUP_ID, user.user.directory_id),
        lambda user: peer.tenant.add_member(ENTRA_GROUP_ID, user.user.directory_id),
    )


def test_failed_page_writes_nothing(world) -> None:
    """issue 19: a directory read that fails (Graph answers 500) writes nothing and the
    run says why."""
    profile, peer = world
    peer.fail(50)  # every read of the members answers 500, retries included
    result = failed_run_writes_nothing(profile, ORG)
    assert "Microsoft Graph" in result.message, result.message


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
    person, desk = demo_users(ORG, DemoCase.SHARED_EMAIL)
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

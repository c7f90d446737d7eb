"""AD Sync end to end over LDAPS: the LDAPS reader against the LDAP peer's copy of the
demo's domain on a socket, configured as a real domain controller would be (its address,
its CA file), writing the demo PSA's contacts through the embedded PSA and through the
PSA's REST API (the REST peer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.demo import LDAPS_COMPANY_ID
from engine.adsync.ldaps_sandbox import DEMO_CA_FILE, start_demo_domain
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.ldap import AdUser, LdapPeer
from tests.adsync.e2e import (
    check_demo_then_idle_run,
    check_leaving_and_returning,
    demo_profile,
    failed_run_writes_nothing,
)
from tests.conftest import copy_profiles

ORG = LDAPS_COMPANY_ID


@pytest.fixture(params=["embedded", "rest"])
def world(request, demo_template: Path, isolated_dirs: Path) -> Iterator[tuple[Profile, LdapPeer]]:
    """The demo profile reading the demo's domain from an LDAP peer that outlives the runs
    (tests change its directory between them), at 127.0.0.1 (its certificate names it) and
    trusted through the CA file, over either PSA source."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    peer = start_demo_domain(paths)
    settings = {
        f"adsync.organizations.{ORG}.ldaps.host": "127.0.0.1",
        f"adsync.organizations.{ORG}.ldaps.port": str(peer.port),
        f"adsync.organizations.{ORG}.ldaps.ca_file": str(paths.data_dir / DEMO_CA_FILE),
    }
    with demo_profile(request.param, settings) as profile:
        yield profile, peer
    peer.stop()


def test_demo_over_ldaps_then_idle_run_writes_nothing(world) -> None:
    """issue 19 end to end over LDAPS, both PSA sources: the demo's planted cases (the
    disabled user and the one outside OU=Staff made inactive), then a second run with no
    directory change writes nothing."""
    check_demo_then_idle_run(world[0], ORG)


def test_leaving_the_base_dn_and_returning_over_ldaps(world) -> None:
    """issue 19: a user moved out of the base DN makes its contact inactive; moved back,
    the same contact is reactivated (the mapping is kept, by objectGUID)."""
    profile, peer = world
    check_leaving_and_returning(
        profile,
        ORG,
        lambda user: peer.put_users([AdUser(user.user, ou="Former Staff")]),
        lambda user: peer.put_users([AdUser(user.user, ou="Staff")]),
    )


def test_a_dropped_connection_writes_nothing(world) -> None:
    """issue 19: a directory read cut by the domain controller fails the run, writes
    nothing, and the run says why."""
    profile, peer = world
    peer.faults.drop_on_page = 1
    result = failed_run_writes_nothing(profile, ORG)
    assert result.errors[0].startswith(f"reading 127.0.0.1:{peer.port} failed: "), result.errors

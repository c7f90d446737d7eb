"""What the console asks of an organization's directory besides a run (issue 19, Console):
*Test connection* and the LDAPS certificate, against the demo's sandboxed directories."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.connection import certificate_status, check_directory
from engine.adsync.demo import ENTRA_COMPANY_ID, LDAPS_COMPANY_ID
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import DEMO_DAY, copy_profiles


@pytest.fixture
def demo(demo_template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    copy_profiles(demo_template, isolated_dirs)
    profile = Profile(ProfilePaths.for_profile("demo"))
    yield profile
    profile.close()


def test_test_connection_yields_the_directorys_steps(demo: Profile) -> None:
    steps = list(check_directory(ENTRA_COMPANY_ID, demo.settings, demo.paths, DEMO_DAY))
    assert [step.name for step in steps][-1] == "Members" and all(step.ok for step in steps)


def test_the_ldaps_certificate_is_read_from_the_domain_controller(demo: Profile) -> None:
    status = certificate_status(LDAPS_COMPANY_ID, demo.settings, demo.paths, DEMO_DAY)
    assert status.valid and status.not_after is not None
    assert status.detail == f"valid until {status.not_after:%Y-%m-%d}"

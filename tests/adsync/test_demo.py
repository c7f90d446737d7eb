"""The demo directories: derived from the demo PSA's contacts, with every planted case."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from engine.adsync.demo import (
    DEMO_DIRECTORY_TYPES,
    DemoCase,
    DemoDirectoryUser,
    demo_directory,
)
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.contacts import ContactValues, PsaContact
from engine.psa.demo import seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from tests.conftest import copy_profiles


def _demo_contacts(path: Path, company_id: int) -> list[PsaContact]:
    psa = EmbeddedPsa(path)
    try:
        return psa.company_contacts(company_id)
    finally:
        psa.close()


@pytest.fixture(scope="module")
def demo_psa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("psa") / "psa.db"
    psa = EmbeddedPsa(path)
    seed_demo_psa(psa, date(2026, 12, 2))
    psa.close()
    return path


@pytest.mark.parametrize("company_id", sorted(DEMO_DIRECTORY_TYPES))
def test_every_planted_case_once(demo_psa: Path, company_id: int) -> None:
    """issue 19 demo: each organization's directory has a shared e-mail (two users), a
    name-only match, a disabled user, a user removed from scope, a blank field over a
    filled PSA value, and new users; the rest match their contact by e-mail."""
    contacts = _demo_contacts(demo_psa, company_id)
    users = demo_directory(company_id, contacts)
    cases = Counter(user.case for user in users)
    assert cases[DemoCase.SHARED_EMAIL] == 2
    assert cases[DemoCase.NEW] == 3
    for case in (DemoCase.NAME_ONLY, DemoCase.BLANK_FIELD, DemoCase.DISABLED):
        assert cases[case] == 1, case
    assert [u.case for u in users if not u.in_scope] == [DemoCase.OUT_OF_SCOPE]
    assert [u.case for u in users if not u.user.enabled] == [DemoCase.DISABLED]
    by_case = {user.case: user for user in users}
    contacts_by_id = {contact.id: contact for contact in contacts}

    def contact_of(user: DemoDirectoryUser) -> ContactValues:
        assert user.contact_id is not None
        return contacts_by_id[user.contact_id].values

    name_only = by_case[DemoCase.NAME_ONLY]
    assert name_only.user.values.email.lower() != contact_of(name_only).email.lower()
    blank = by_case[DemoCase.BLANK_FIELD]
    assert blank.user.values.phone == "" and contact_of(blank).phone != ""
    shared = [u.user.values.email for u in users if u.case is DemoCase.SHARED_EMAIL]
    assert shared[0] == shared[1]
    names = {(c.values.first_name, c.values.last_name) for c in contacts}
    assert all(
        (u.user.values.first_name, u.user.values.last_name) not in names
        for u in users
        if u.case is DemoCase.NEW
    )
    assert len({u.user.directory_id for u in users}) == len(users)


def test_same_contacts_same_directory(demo_psa: Path) -> None:
    """The demo is deterministic: the same contacts give the same users, ids included."""
    contacts = _demo_contacts(demo_psa, 1)
    assert demo_directory(1, contacts) == demo_directory(1, list(reversed(contacts)))


def test_demo_profile_syncs_both_organizations(demo_template: Path, isolated_dirs: Path) -> None:
    """issue 19 demo: the demo profile enables AD sync for company 1 (Entra ID) and 2
    (LDAPS); the user removed from scope was synced before (mapped), so the first run
    makes its contact inactive."""
    copy_profiles(demo_template, isolated_dirs)
    profile = Profile(ProfilePaths.for_profile("demo"))
    try:
        organizations = profile.settings.adsync.organizations
        assert {c: o.directory for c, o in organizations.items() if o.enabled} == (
            DEMO_DIRECTORY_TYPES
        )
        for company_id in DEMO_DIRECTORY_TYPES:
            demo = demo_directory(company_id, profile.psa.company_contacts(company_id))
            departed = [e for e in demo if e.case is DemoCase.OUT_OF_SCOPE]
            assert profile.adsync.mappings(company_id) == {
                e.user.directory_id: e.contact_id for e in departed
            }
    finally:
        profile.close()

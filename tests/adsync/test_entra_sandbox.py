"""The demo's Entra ID tenant as the sandbox serves it, read by the Entra ID reader over
its socket with the demo profile's own settings and secret."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from engine.adsync.demo import ENTRA_COMPANY_ID, DemoCase, demo_directory
from engine.adsync.entra import open_entra_id
from engine.adsync.entra_sandbox import demo_tenant_endpoints, seeded_contacts
from engine.paths import ProfilePaths
from engine.psa.demo import seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.settings.store import SettingsStore
from tests.conftest import copy_profiles

TODAY = date(2026, 12, 2)


def test_the_demo_tenant_serves_company_1s_users_with_the_planted_cases(
    demo_template: Path, isolated_dirs: Path
) -> None:
    """issue 19 demo: company 1 reads its group through the sandbox's Graph emulator with
    the profile's settings: every user of the group (new ones through a nested group) with
    the ids the demo gives them, the disabled one flagged, the one removed from the group
    not read; two users share an e-mail; Graph carries no middle name."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    settings = SettingsStore(paths).load()
    expected = demo_directory(ENTRA_COMPANY_ID, seeded_contacts(ENTRA_COMPANY_ID))
    with ExitStack() as stack:
        endpoints = demo_tenant_endpoints(stack, settings, paths)
        organization = settings.adsync.organization(ENTRA_COMPANY_ID)
        reader = open_entra_id(ENTRA_COMPANY_ID, organization, paths, TODAY, **endpoints)
        stack.callback(reader.close)
        users = {user.directory_id: user for user in reader.users()}
        assert all(step.ok for step in reader.check())
    in_scope = [demo for demo in expected if demo.in_scope]
    assert set(users) == {demo.user.directory_id for demo in in_scope}
    cases = Counter(demo.case for demo in in_scope)
    assert cases[DemoCase.NEW] == 3 and cases[DemoCase.SHARED_EMAIL] == 2
    disabled = [demo for demo in in_scope if demo.case is DemoCase.DISABLED]
    assert [users[demo.user.directory_id].enabled for demo in disabled] == [False]
    for demo in in_scope:
        values = users[demo.user.directory_id].values
        assert values.email == demo.user.values.email and values.middle_name == ""


def test_a_profile_without_the_demo_tenant_gets_no_emulator(
    demo_template: Path, isolated_dirs: Path
) -> None:
    """Only a sandboxed profile whose organization reads the demo tenant gets one."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    settings = SettingsStore(paths).load()
    real = settings.model_copy(
        update={"sandbox": settings.sandbox.model_copy(update={"enabled": False})}
    )
    with ExitStack() as stack:
        assert demo_tenant_endpoints(stack, real, paths) == {}


def test_the_seeded_contacts_are_the_demo_data_sets(tmp_path: Path) -> None:
    """The contacts-only seed gives company 1 the contacts the full demo data set gives it,
    whatever the PSA has become since."""
    psa = EmbeddedPsa(tmp_path / "psa.db")
    seed_demo_psa(psa, TODAY)
    assert seeded_contacts(ENTRA_COMPANY_ID) == psa.company_contacts(ENTRA_COMPANY_ID)
    psa.close()

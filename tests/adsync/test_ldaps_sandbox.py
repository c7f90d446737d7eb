"""The demo's domain controller as the sandbox serves it, read by the LDAPS reader over
TLS with the demo profile's own settings and secret."""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from engine.adsync.demo import LDAPS_COMPANY_ID, DemoCase, demo_directory
from engine.adsync.entra_sandbox import seeded_contacts
from engine.adsync.ldaps import open_ldaps
from engine.adsync.ldaps_sandbox import demo_domain_endpoints
from engine.paths import ProfilePaths
from engine.settings.store import SettingsStore
from tests.conftest import copy_profiles

TODAY = date(2026, 12, 2)


def test_the_demo_domain_serves_company_2s_users_with_the_planted_cases(
    demo_template: Path, isolated_dirs: Path
) -> None:
    """issue 19 demo: company 2 reads OU=Staff of the sandbox's domain controller over
    LDAPS with the profile's settings (its certificate trusted through the demo's CA): every
    user of the base DN with the ids the demo gives them, the disabled one flagged, the one
    moved to OU=Former Staff not read; two users share an e-mail; AD carries the middle
    name."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    settings = SettingsStore(paths).load()
    expected = demo_directory(LDAPS_COMPANY_ID, seeded_contacts(LDAPS_COMPANY_ID))
    organization = settings.adsync.organization(LDAPS_COMPANY_ID)
    with ExitStack() as stack:
        endpoints = demo_domain_endpoints(stack, settings, paths)
        reader = open_ldaps(LDAPS_COMPANY_ID, organization, paths, TODAY, **endpoints)
        stack.callback(reader.close)
        users = {user.directory_id: user for user in reader.users()}
        steps = list(reader.check())
        assert all(step.ok for step in steps), steps
        assert reader.certificate_status().valid
    in_scope = [demo for demo in expected if demo.in_scope]
    assert set(users) == {demo.user.directory_id for demo in in_scope}
    cases = Counter(demo.case for demo in in_scope)
    assert cases[DemoCase.NEW] == 3 and cases[DemoCase.SHARED_EMAIL] == 2
    disabled = [demo for demo in in_scope if demo.case is DemoCase.DISABLED]
    assert [users[demo.user.directory_id].enabled for demo in disabled] == [False]
    for demo in in_scope:
        read = users[demo.user.directory_id]
        assert read.login == demo.user.login
        assert read.values == demo.user.values


def test_a_profile_without_the_demo_domain_gets_no_peer(
    demo_template: Path, isolated_dirs: Path
) -> None:
    """Only a sandboxed profile whose organization reads the demo's host gets one."""
    copy_profiles(demo_template, isolated_dirs)
    paths = ProfilePaths.for_profile("demo")
    settings = SettingsStore(paths).load()
    real = settings.model_copy(
        update={"sandbox": settings.sandbox.model_copy(update={"enabled": False})}
    )
    with ExitStack() as stack:
        assert demo_domain_endpoints(stack, real, paths) == {}

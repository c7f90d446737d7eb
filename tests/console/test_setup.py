"""The setup wizard, walked with the keyboard from an empty profile against the EWS emulator."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from exchangelib.protocol import close_connections
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from console.app import MsextApp
from console.screens.admin import AdminScreen
from console.screens.dialogs import ConfirmScreen
from console.screens.setup import SetupScreen
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.demo import seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.sandbox.ews import EwsEmulator, MailboxSpec
from engine.sandbox.graph import GraphEmulator
from engine.sandbox.psa_rest import PsaRestEmulator
from engine.settings.secrets import resolve_secret
from tests.console.walk import press_button, settle, text, type_into

ACCOUNT = "svc-msext@contoso.example"
SECRET = "Typed-in-S3cret"
CHLOE = "chloe.reyes@contoso.example"
AVA = "ava.fischer@contoso.example"
EMMA_ID, CHLOE_ID = 5, 3
TENANT, CLIENT = "contoso.onmicrosoft.com", "0f3e2d1c-4b5a-4978-8695-a4b3c2d1e0f9"


@pytest.fixture
def exchange(tmp_path: Path) -> Iterator[EwsEmulator]:
    """Mailboxes for the demo's resources: Chloe's not granted yet, Emma without one."""
    psa = EmbeddedPsa(tmp_path / "resources.sqlite")
    seed_demo_psa(psa, date.today())
    resources = psa.resources()
    psa.close()
    specs = [
        MailboxSpec(r.email, r.name, granted=r.id != CHLOE_ID) for r in resources if r.id != EMMA_ID
    ]
    emulator = EwsEmulator(
        db_path=tmp_path / "exchange.sqlite", service_account=(ACCOUNT, SECRET), mailboxes=specs
    )
    emulator.start()
    yield emulator
    close_connections()
    emulator.stop()


@pytest.fixture
def fresh() -> ProfilePaths:
    return ProfilePaths.for_profile("fresh")


async def test_wizard_from_an_empty_profile_to_a_saved_configuration(
    fresh: ProfilePaths, exchange: EwsEmulator
) -> None:
    """R14, R01: the wizard opens on an empty profile; the connection is tested; a failed
    impersonation check is fixed by the grant and passes; unmatched resources are listed;
    an interval of 5 is refused; the dry run writes nothing; only the last step saves."""
    profile = Profile(fresh)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        assert isinstance(app.screen, SetupScreen)
        assert text(app, "#setup-title") == "Step 1 of 8: PSA connection"
        await pilot.press("ctrl+n")
        assert fresh.psa_db.exists(), "Next on step 1 creates the embedded PSA"

        await type_into(pilot, "#f-exchange-general-ews_url", exchange.url)
        await type_into(pilot, "#f-exchange-general-sync_account", ACCOUNT)
        app.screen.query_one("#f-exchange-general-auth_type").focus()
        await pilot.press("enter", "down", "enter")
        await type_into(pilot, "#setup-secret", SECRET)
        await pilot.press("ctrl+n")
        assert "test the connection first" in text(app, "#setup-problem")
        await press_button(pilot, "#setup-test")
        assert "ok  Credentials of the synchronization account" in text(app, "#exchange-result")
        await pilot.press("ctrl+n")

        assert text(app, "#setup-title") == "Step 3 of 8: Impersonation rights"
        commands = text(app, "#impersonation-commands")
        assert "-Role ApplicationImpersonation -User svc-msext@contoso.example" in commands
        await type_into(pilot, "#setup-mailbox", CHLOE)
        await pilot.press("enter")
        await settle(pilot)
        assert text(app, "#impersonation-result").startswith("FAILED")
        await pilot.press("ctrl+n")
        assert "must pass" in text(app, "#setup-problem")
        exchange.grant(CHLOE)
        app.screen.query_one("#setup-mailbox").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert text(app, "#impersonation-result").startswith("ok")
        await pilot.press("ctrl+n")
        await settle(pilot)

        assert "28 of 29 selected. Not found in Exchange: Emma Novak." in text(
            app, "#match-summary"
        )
        table = app.screen.query_one("#match-table", DataTable)
        table.focus()
        await pilot.press("down", "space")
        assert "27 of 29 selected" in text(app, "#match-summary")
        await pilot.press("ctrl+n", "ctrl+n")

        assert text(app, "#setup-title") == "Step 6 of 8: Interval"
        await type_into(pilot, "#f-exchange-sync-interval_minutes", "5")
        await pilot.press("ctrl+n")
        assert "at least 10 minutes" in text(app, "#setup-problem")
        await type_into(pilot, "#f-exchange-sync-interval_minutes", "15")
        await pilot.press("ctrl+n")
        await settle(pilot)

        assert app.screen.query_one("#dry-table", DataTable).row_count == 27
        assert text(app, "#dry-summary").startswith("In all: create ")
        assert exchange.items(AVA) == [], "the dry run wrote nothing"
        assert not fresh.config_file.exists(), "nothing saved before the last step"
        await pilot.press("ctrl+b", "ctrl+n")
        await settle(pilot)
        await pilot.press("ctrl+n")
        assert "for 27 resources, every 15 minutes" in text(app, "#save-summary")
        await press_button(pilot, "#setup-save")
        assert isinstance(app.screen, AdminScreen) and app.current_mode == "admin"

    saved = Profile(fresh)
    settings = saved.settings
    assert settings.exchange.general.enabled and settings.exchange.sync.interval_minutes == 15
    assert settings.exchange.general.secret == "file:ews-service-account"
    enabled = {rid for rid, resource in settings.exchange.resources.items() if resource.enabled}
    assert len(enabled) == 27 and EMMA_ID not in enabled and CHLOE_ID in enabled
    secret = fresh.secrets_dir / "ews-service-account"
    assert secret.read_text(encoding="utf-8") == SECRET
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert SECRET not in fresh.config_file.read_text(encoding="utf-8")
    saved.close()
    profile.close()


async def test_leaving_the_wizard_midway_saves_nothing(
    fresh: ProfilePaths, exchange: EwsEmulator
) -> None:
    """Esc, then Leave (Cancel has the focus): no settings file, no secret, and the PSA
    that step 1 created is gone."""
    profile = Profile(fresh)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+n")
        await type_into(pilot, "#f-exchange-general-ews_url", exchange.url)
        await type_into(pilot, "#setup-secret", SECRET)
        await pilot.press("ctrl+b")
        assert text(app, "#setup-title") == "Step 1 of 8: PSA connection"
        await pilot.press("ctrl+n")
        field = app.screen.query_one("#f-exchange-general-ews_url", Input)
        assert field.value == exchange.url, "Back and Next keep what was entered"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("shift+tab", "enter")
        await pilot.pause()
    assert not fresh.config_file.exists()
    assert not (fresh.secrets_dir / "ews-service-account").exists()
    assert not fresh.psa_db.exists()
    profile.close()


async def test_q_in_the_wizard_asks_before_leaving(fresh: ProfilePaths) -> None:
    """`q` typed outside a text field asks as Esc does; staying keeps the wizard and what
    was entered, leaving saves nothing."""
    profile = Profile(fresh)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+n")
        await type_into(pilot, "#setup-secret", SECRET)
        app.screen.query_one("#setup-next").focus()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen) and app.is_running
        assert app.screen.query_one("#setup-secret", Input).value == SECRET
        await pilot.press("q")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        assert not app.is_running
    assert not fresh.config_file.exists()
    profile.close()


async def test_palette_opens_the_wizard_on_a_configured_profile(app: MsextApp) -> None:
    """Later, the wizard is one palette entry away and starts from the saved settings."""
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"setup wizard")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SetupScreen)
        assert "Embedded PSA found: 30 resources." in text(app, "#psa-result")
        await pilot.press("ctrl+n")
        url = app.screen.query_one("#f-exchange-general-sync_account", Input).value
        assert url == "svc-msext@contoso.example"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("shift+tab", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AdminScreen)


@pytest.fixture
def psa_api(tmp_path: Path) -> Iterator[PsaRestEmulator]:
    """The PSA's REST API over the demo data (somewhere else than the profile)."""
    psa = EmbeddedPsa(tmp_path / "psa-behind-the-api.sqlite")
    seed_demo_psa(psa, date.today())
    psa.close()
    with PsaRestEmulator(tmp_path / "psa-behind-the-api.sqlite", secret="api-S3cret") as peer:
        yield peer


async def choose_rest_psa(pilot: Pilot, psa_api: PsaRestEmulator, url: str) -> None:
    """Step 1: the PSA's REST API with ``url`` and the peer's API user (secret not typed)."""
    pilot.app.screen.query_one("#f-psa-kind").focus()
    await pilot.press("enter", "down", "enter")
    await pilot.pause()
    assert pilot.app.screen.query_one("#rest-fields").display
    await type_into(pilot, "#f-psa-rest_url", url)
    await type_into(pilot, "#f-psa-rest_username", psa_api.user.username)
    await type_into(pilot, "#f-psa-rest_integration_code", psa_api.user.integration_code)


async def test_wizard_reads_the_psa_through_its_rest_api(
    fresh: ProfilePaths, exchange: EwsEmulator, psa_api: PsaRestEmulator
) -> None:
    """The PSA step takes the REST API: a wrong secret fails the test, the right one passes;
    no embedded PSA is created; the resources to match come from the API; the API user's
    secret is saved in the secrets directory (0600) and only as a reference in the file."""
    profile = Profile(fresh)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose_rest_psa(pilot, psa_api, psa_api.url)
        await type_into(pilot, "#setup-psa-secret", "wrong")
        await press_button(pilot, "#setup-psa-test")
        assert "refused the API user" in text(app, "#psa-result")
        await pilot.press("ctrl+n")
        assert "test the PSA connection first" in text(app, "#setup-problem")
        await type_into(pilot, "#setup-psa-secret", "api-S3cret")
        await press_button(pilot, "#setup-psa-test")
        assert text(app, "#psa-result") == "ok  The PSA's REST API answers: 30 resources."
        await pilot.press("ctrl+n")
        assert not fresh.psa_db.exists(), "no embedded PSA with the REST API"

        await type_into(pilot, "#f-exchange-general-ews_url", exchange.url)
        await type_into(pilot, "#f-exchange-general-sync_account", ACCOUNT)
        app.screen.query_one("#f-exchange-general-auth_type").focus()
        await pilot.press("enter", "down", "enter")
        await type_into(pilot, "#setup-secret", SECRET)
        await press_button(pilot, "#setup-test")
        await pilot.press("ctrl+n")
        await type_into(pilot, "#setup-mailbox", AVA)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert "28 of 29 selected" in text(app, "#match-summary")
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n")
        await settle(pilot)
        assert app.screen.query_one("#dry-table", DataTable).row_count == 28
        await pilot.press("ctrl+n")
        await press_button(pilot, "#setup-save")
        assert app.current_mode == "admin"
    saved = Profile(fresh).settings.psa
    assert saved.kind.value == "rest" and saved.rest_secret == "file:psa-rest"
    secret = fresh.secrets_dir / "psa-rest"
    assert secret.read_text(encoding="utf-8") == "api-S3cret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "api-S3cret" not in fresh.config_file.read_text(encoding="utf-8")
    profile.close()


async def test_a_later_steps_field_never_traps_the_psa_step(
    fresh: ProfilePaths, psa_api: PsaRestEmulator
) -> None:
    """Back on step 1 with a bad EWS URL typed on step 2, the PSA test checks only the
    PSA's fields and passes, so Next reaches step 2 where the URL can be corrected; a
    PSA field's message names it by its label, not by its settings key."""
    profile = Profile(fresh)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        await choose_rest_psa(pilot, psa_api, "not a url")
        await type_into(pilot, "#setup-psa-secret", "api-S3cret")
        await press_button(pilot, "#setup-psa-test")
        assert text(app, "#psa-result").startswith("FAILED  Zone discovery URL: ")
        assert "psa.rest_url" not in text(app, "#psa-result")
        await type_into(pilot, "#f-psa-rest_url", psa_api.url)
        await press_button(pilot, "#setup-psa-test")
        await pilot.press("ctrl+n")
        await type_into(pilot, "#f-exchange-general-ews_url", "not a url either")
        await pilot.press("ctrl+b")
        await type_into(pilot, "#setup-psa-secret", "api-S3cret")
        await press_button(pilot, "#setup-psa-test")
        assert text(app, "#psa-result") == "ok  The PSA's REST API answers: 30 resources."
        await pilot.press("ctrl+n")
        assert text(app, "#setup-title") == "Step 2 of 8: Exchange connection"
    profile.close()


async def test_wizard_reaches_office_365_through_microsoft_graph(
    fresh: ProfilePaths, exchange: EwsEmulator
) -> None:
    """R19, R14: Office 365 with Microsoft Graph: the app registration signs in, step 3
    becomes the application access policy with its PowerShell and permissions, a mailbox
    outside the policy fails the check until it is added, and the mailboxes are matched
    through Graph; the saved settings name Graph and no EWS URL. The EWS fields are greyed
    out once Graph is chosen, the Graph URL until then."""
    with GraphEmulator(exchange.store, TENANT, CLIENT, SECRET) as graph:
        exchange.grant(ACCOUNT)
        profile = Profile(fresh)
        app = MsextApp(profile)
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.press("ctrl+n")
            app.screen.query_one("#f-exchange-general-server_type").focus()
            await pilot.press("enter", "down", "down", "enter")
            assert app.screen.query_one("#row-f-exchange-general-graph_url").disabled
            app.screen.query_one("#f-exchange-general-mailbox_api").focus()
            await pilot.press("enter", "down", "enter")
            await pilot.pause()
            assert app.screen.query_one("#row-f-exchange-general-ews_url").disabled
            assert not app.screen.query_one("#row-f-exchange-general-graph_url").disabled
            await type_into(pilot, "#f-exchange-general-sync_account", ACCOUNT)
            await type_into(pilot, "#f-exchange-general-oauth_tenant_id", TENANT)
            await type_into(pilot, "#f-exchange-general-oauth_client_id", CLIENT)
            await type_into(pilot, "#f-exchange-general-oauth_token_url", graph.token_url)
            await type_into(pilot, "#f-exchange-general-graph_url", graph.url)
            await type_into(pilot, "#setup-secret", "not-the-secret")
            await press_button(pilot, "#setup-test")
            assert "AADSTS7000215" in text(app, "#exchange-result")
            await type_into(pilot, "#setup-secret", SECRET)
            await press_button(pilot, "#setup-test")
            result = text(app, "#exchange-result")
            assert "ok  Microsoft Graph endpoint" in result
            assert "ok  The app registration: accepted by Microsoft 365" in result
            await pilot.press("ctrl+n")

            assert text(app, "#setup-title") == "Step 3 of 8: Application access"
            commands = text(app, "#impersonation-commands")
            assert f"New-ApplicationAccessPolicy -AppId {CLIENT}" in commands
            assert "Calendars.ReadWrite, Contacts.ReadWrite, Mail.Send" in text(
                app, "#impersonation-scope"
            )
            await type_into(pilot, "#setup-mailbox", CHLOE)
            await pilot.press("enter")
            await settle(pilot)
            refused = text(app, "#impersonation-result")
            assert refused.startswith("FAILED") and "application access policy" in refused
            exchange.grant(CHLOE)
            app.screen.query_one("#setup-mailbox").focus()
            await pilot.press("enter")
            await settle(pilot)
            assert text(app, "#impersonation-result") == (
                f"ok  The app registration may act for {CHLOE}."
            )
            await pilot.press("ctrl+n")
            await settle(pilot)
            assert "28 of 29 selected. Not found in Exchange: Emma Novak." in text(
                app, "#match-summary"
            )
            await pilot.press("ctrl+n", "ctrl+n", "ctrl+n")
            await settle(pilot)
            assert app.screen.query_one("#dry-table", DataTable).row_count == 28
            await pilot.press("ctrl+n")
            await press_button(pilot, "#setup-save")
            assert isinstance(app.screen, AdminScreen)
        general = Profile(fresh).settings.exchange.general
        assert general.mailbox_api == "graph" and general.ews_url is None
        assert (general.oauth_tenant_id, general.oauth_client_id) == (TENANT, CLIENT)
        profile.close()


async def test_the_wizard_on_the_demo_profile_uses_its_emulators(app: MsextApp) -> None:
    """R14: on the demo profile the wizard tests against the embedded emulators, as the
    General tab does: it says so, asks for no EWS URL, and goes on past the impersonation
    check to the resources."""
    secret = resolve_secret("file:ews-service-account", app.profile.paths)
    async with app.run_test(size=(100, 40)) as pilot:
        app.open_setup()
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert "embedded emulators" in text(app, "#setup-demo-note")
        await type_into(pilot, "#setup-secret", secret)
        await press_button(pilot, "#setup-test")
        outcome = text(app, "#exchange-result")
        assert "ok  EWS endpoint: the embedded EWS emulator answers" in outcome
        assert "HTTP 401" not in outcome, "'ok' beside an HTTP error code reads as a failure"
        await pilot.press("ctrl+n")
        await settle(pilot)
        await type_into(pilot, "#setup-mailbox", AVA)
        await pilot.press("enter")
        await settle(pilot)
        assert text(app, "#impersonation-result") == f"ok  The account may act for {AVA}."
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert text(app, "#setup-title") == "Step 4 of 8: Resources and mailboxes"


async def test_impersonation_commands_copy_in_one_clean_paste(app: MsextApp) -> None:
    """R14: step 3's PowerShell wraps on screen and pasted badly; ctrl+y (shown in the
    footer, and a button) puts the commands on the clipboard as they are, one per line."""
    from tests.console.test_snapshots import CHLOE, wizard

    async with app.run_test(size=(80, 24)) as pilot:
        await wizard(3, check=CHLOE)(pilot)
        commands = str(app.screen.query_one("#impersonation-commands").render())
        assert "ctrl+y" in {key for key, active in app.screen.active_bindings.items()}
        await pilot.press("ctrl+y")
        assert app.clipboard.startswith("New-ManagementRoleAssignment")
        assert app.clipboard.split() == commands.split(), "the same words, unwrapped"

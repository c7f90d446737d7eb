"""AD Sync's pages (issue 19, Console): the organizations, one organization's Setup, AD Users
and History tabs, Sync now; driven by keys on the demo profile as an admin would."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from textual.widgets import DataTable, OptionList, ProgressBar, Select, TabbedContent, TextArea

from console.app import MsextApp
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.adsync.company_dialog import CompanyScreen
from console.screens.adsync.organization import OrganizationScreen
from console.screens.adsync.organizations import AdSyncScreen, ssl_cell
from console.screens.adsync.resolve_dialog import ResolveScreen
from console.screens.dialogs import LeaveScreen
from console.widgets.breadcrumb import Breadcrumb
from engine.adsync.demo import ENTRA_COMPANY_ID, LDAPS_COMPANY_ID
from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.model import CertificateStatus
from engine.adsync.state import TOTALS
from engine.adsync.sync import organization_lock
from engine.profile import Profile
from engine.settings.adsync import DirectoryType
from tests.conftest import DEMO_DAY
from tests.console.walk import press_button, settle, text, type_into


async def open_list(app: MsextApp, pilot) -> AdSyncScreen:
    app.go(AdSyncScreen)
    await settle(pilot)
    assert isinstance(app.screen, AdSyncScreen)
    return app.screen


async def open_organization(app: MsextApp, pilot, company_id: int) -> OrganizationScreen:
    screen = await open_list(app, pilot)
    table = screen.query_one("#organizations-table", DataTable)
    table.move_cursor(row=table.get_row_index(str(company_id)))
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, OrganizationScreen)
    return app.screen


def rows_of(table: DataTable) -> dict[str, list[str]]:
    """The table's rows as text, by row key."""
    return {
        str(key.value): [str(cell).strip() for cell in table.get_row(key)] for key in table.rows
    }


def shown(screen: OrganizationScreen, selector: str) -> bool:
    return screen.query_one(selector).display


async def test_keys_alone_reach_ad_sync_and_it_is_no_longer_not_available(app: MsextApp) -> None:
    """The Microsoft Extensions menu offers AD Sync with its state; Enter opens the list of
    organizations (the demo's two: Entra ID and LDAPS)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter", "enter")
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
        labels = [str(option.prompt) for option in app.screen.query_one("#menu").options]
        assert "Active Directory (AD) Sync  [2 of 2 organizations enabled]" in labels[0]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AdSyncScreen)
        table = app.screen.query_one("#organizations-table", DataTable)
        rows = rows_of(table)
        assert set(rows) == {str(ENTRA_COMPANY_ID), str(LDAPS_COMPANY_ID)}
        assert rows[str(ENTRA_COMPANY_ID)][1:3] == ["yes", "Entra ID"]
        assert rows[str(LDAPS_COMPANY_ID)][1:3] == ["yes", "LDAPS"]


async def test_the_breadcrumb_gives_way_before_the_page_name(app: MsextApp) -> None:
    """At 80 columns the path to an organization is longer than the line: the crumbs after
    Admin give way ("…"), the organization's name stays whole."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_organization(app, pilot, LDAPS_COMPANY_ID)
        line = str(screen.query_one(Breadcrumb).render())
        assert line.startswith("Admin > … > ") and line.endswith("> Harbor Foods 2")
        assert len(line) <= 78


async def test_setup_shows_only_the_chosen_directorys_fields(app: MsextApp) -> None:
    """Entra ID shows tenant, client id, secret with its expiry warning and group; choosing
    LDAPS shows host, port, bind account, secret, base DN and filters instead."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_organization(app, pilot, ENTRA_COMPANY_ID)
        assert shown(screen, "#entra-id-fields") and not shown(screen, "#ldaps-fields")
        warning = text(app, "#secret-expiry")
        assert warning.startswith("The client secret expires in 21 days (2026-12-15)")
        select = screen.query_one("#f-adsync-organizations-1-directory", Select)
        select.focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert select.value == DirectoryType.LDAPS
        assert shown(screen, "#ldaps-fields") and not shown(screen, "#entra-id-fields")
        assert "Setup *" in str(screen.query_one(TabbedContent).get_tab("tab-setup").label)


async def test_enabling_ldaps_without_a_host_is_refused_beside_the_field(
    app: MsextApp, demo_profile: Profile
) -> None:
    """An enabled LDAPS sync needs its host: the model's message shows beside the field and
    nothing is saved."""
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, LDAPS_COMPANY_ID)
        await type_into(pilot, "#f-adsync-organizations-2-ldaps-host", "")
        await pilot.press("ctrl+s")
        await settle(pilot)
        message = text(app, "#m-adsync-organizations-2-ldaps-host")
        assert message == "! set the host to enable AD sync"
        assert "Unsaved changes" in text(app, "#page-status")
    assert demo_profile.store.path.read_bytes() == before


async def test_filters_one_a_line_and_fields_are_saved(
    app: MsextApp, demo_profile: Profile
) -> None:
    """LDAP filters hold commas (DNs), so they are one a line; unchecking a contact field
    drops it from what syncs."""
    group = "(memberOf=CN=PSA Contacts,OU=Groups,DC=customer,DC=example)"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_organization(app, pilot, LDAPS_COMPANY_ID)
        filters = screen.query_one("#f-adsync-organizations-2-ldaps-filters", TextArea)
        filters.focus()
        filters.move_cursor(filters.document.end)
        filters.insert(f"\n{group}")  # as pasted: typing it key by key takes seconds
        fields = screen.query_one("#f-adsync-organizations-2-fields")
        fields.focus()
        await pilot.press("down", "space")  # the second: job title
        await pilot.press("ctrl+s")
        await settle(pilot)
    saved = demo_profile.store.load_saved().adsync.organizations[LDAPS_COMPANY_ID]
    assert saved.ldaps.filters == ["(&(objectCategory=person)(objectClass=user))", group]
    assert "title" not in saved.fields and "email" in saved.fields


async def test_leaving_with_unsaved_changes_asks_on_esc_and_q(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, LDAPS_COMPANY_ID)
        await type_into(pilot, "#f-adsync-organizations-2-ldaps-host", "dc02.customer.example")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LeaveScreen)
        await pilot.press("escape")  # stay
        await pilot.pause()
        app.screen.query_one("#save").focus()  # away from the text field, where q is typed
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, LeaveScreen)
        app.screen.query_one("#discard").focus()
        await pilot.press("enter")
        await settle(pilot)
    assert app.return_code == 0


async def test_an_organization_is_added_by_picking_a_company_and_saving(
    app: MsextApp, demo_profile: Profile
) -> None:
    """`a` lists the PSA companies without AD sync (filterable); the one picked opens as a
    new organization, added when saved."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_list(app, pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, CompanyScreen)
        table = app.screen.query_one("#company-table", DataTable)
        assert table.row_count == 118
        await pilot.press(*"harbor")
        listed = [row[1] for row in rows_of(table).values()]
        assert listed and all("Harbor" in name for name in listed)
        assert "Harbor Foods 2" not in listed, "company 2 syncs already"
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OrganizationScreen) and screen.crumb == listed[0]
        assert "Unsaved changes" in text(app, "#page-status")
        await pilot.press("ctrl+s")
        await settle(pilot)
        added = screen.company_id
        await pilot.press("escape")
        await settle(pilot)
        table = app.screen.query_one("#organizations-table", DataTable)
        assert table.row_count == 3
    organization = demo_profile.store.load_saved().adsync.organizations[added]
    assert organization.directory is DirectoryType.ENTRA_ID and not organization.enabled


async def test_help_on_the_list_and_the_organization_page(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, ENTRA_COMPANY_ID)
        for _ in range(2):
            await pilot.press("f1")
            await pilot.pause()
            assert app.screen.query_one("#help-text")
            await pilot.press("escape", "escape")
            await settle(pilot)


async def open_tab(app: MsextApp, pilot, company_id: int, tab: str) -> OrganizationScreen:
    screen = await open_organization(app, pilot, company_id)
    screen.query_one(TabbedContent).active = tab
    await settle(pilot)
    return screen


async def first_conflict(app: MsextApp, pilot) -> str:
    """The AD Users tab of the Entra organization, narrowed to its conflicts; the id of the
    highlighted one."""
    screen = await open_tab(app, pilot, ENTRA_COMPANY_ID, "tab-users")
    await pilot.press("slash", *"conflict", "enter")
    table = screen.query_one("#adsync-users-table", DataTable)
    return str(table.coordinate_to_cell_key(table.cursor_coordinate)[0].value)


async def test_the_list_shows_each_organizations_last_runs_at_a_glance(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    """Synced users, conflicts, last sync and the last runs (✓ ! ✗) per organization; the
    line under the table says the highlighted one's directory, last run and next run."""
    state = adsync_profile.adsync
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(adsync_app, pilot)
        rows = rows_of(screen.query_one("#organizations-table", DataTable))
        counts = state.counts()[ENTRA_COMPANY_ID]
        entra = rows[str(ENTRA_COMPANY_ID)]
        assert entra[3:5] == [str(counts["synced"]), str(counts["conflicts"])]
        assert entra[5] == "—" and entra[6] == "11-24 06:00" and entra[7] == "!"
        detail = text(adsync_app, "#organization-detail")
        assert "Entra ID group" in detail and "Next run: due now" in detail


async def test_ad_users_lists_outcomes_and_filters(adsync_app: MsextApp) -> None:
    """Every user in scope with its outcome: matched, new, inactive, conflict; `/` narrows
    by name, login, e-mail or outcome."""
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(adsync_app, pilot, ENTRA_COMPANY_ID, "tab-users")
        table = screen.query_one("#adsync-users-table", DataTable)
        outcomes = {row[1] for row in rows_of(table).values()}
        assert {"matched", "new", "inactive", "conflict"} <= outcomes
        await pilot.press("slash", *"conflict")
        assert {row[1] for row in rows_of(table).values()} == {"conflict"}
        assert table.row_count == 2
        await pilot.press("slash", *"nobody-at-all")
        assert table.row_count == 0
        assert "No match for 'nobody-at-all'" in text(adsync_app, "#users-detail")


async def test_a_conflict_is_resolved_by_picking_the_contact(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    """Enter on a conflict opens the dialog: the contact picked is the user's resolution,
    kept for the next run and marked * in the table."""
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        user_id = await first_conflict(adsync_app, pilot)
        screen = adsync_app.screen
        table = screen.query_one("#adsync-users-table", DataTable)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(adsync_app.screen, ResolveScreen)
        options = adsync_app.screen.query_one("#resolve-options", OptionList)
        await pilot.press("slash", *"desk")  # the shared e-mail's second user: "Front Desk"
        await pilot.press("escape")
        await settle(pilot)
        assert adsync_app.screen is screen, "Esc cancels"
        await pilot.press("enter")
        await settle(pilot)
        options = adsync_app.screen.query_one("#resolve-options", OptionList)
        picked = options.get_option_at_index(2)
        contact_id = int(picked.id or 0)
        await pilot.press("enter")
        await settle(pilot)
        assert adsync_app.screen is screen
        assert rows_of(table)[user_id][1] == "conflict *"
    resolution = adsync_profile.adsync.resolutions(ENTRA_COMPANY_ID)[user_id]
    assert resolution == Resolution(ResolutionKind.CONTACT, contact_id)


async def test_a_conflict_is_resolved_by_excluding_the_user(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        user_id = await first_conflict(adsync_app, pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("home", "down", "enter")  # "Exclude this user from AD sync"
        await settle(pilot)
        assert "resolved: excluded" in text(adsync_app, "#users-detail")
    resolution = adsync_profile.adsync.resolutions(ENTRA_COMPANY_ID)[user_id]
    assert resolution.kind is ResolutionKind.EXCLUDE


async def test_resolving_a_user_without_a_conflict_is_refused(adsync_app: MsextApp) -> None:
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(adsync_app, pilot, ENTRA_COMPANY_ID, "tab-users")
        await pilot.press("slash", *"matched", "enter", "r")
        await settle(pilot)
        assert adsync_app.screen is screen
        assert "has no conflict to resolve (matched)" in str(
            list(adsync_app._notifications)[-1].message
        )


async def test_history_shows_the_runs_with_counts_and_the_highlighted_ones_errors(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    runs = adsync_profile.adsync.runs(ENTRA_COMPANY_ID)
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(adsync_app, pilot, ENTRA_COMPANY_ID, "tab-history")
        table = screen.query_one("#runs-table", DataTable)
        assert table.row_count == len(runs) == 1
        row = rows_of(table)[str(runs[0].id)]
        assert row[:3] == ["2026-11-24 06:00", "schedule", runs[0].outcome]
        assert row[3:] == [str(runs[0].totals[name]) for name in TOTALS]
        assert text(adsync_app, "#run-detail").startswith("Run of 2026-11-24 06:00 UTC")


async def test_test_connection_shows_each_step_of_the_directory(app: MsextApp) -> None:
    """Test connection reads the Entra ID group with the settings on the page, step by step,
    in the background; the client secret's expiry is said at sign-in."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, ENTRA_COMPANY_ID)
        await press_button(pilot, "#test-connection")
        lines = text(app, "#test-result").splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "[ok] Sign-in",
            "[ok] Permission User.Read.All",
            "[ok] Permission GroupMember.Read.All",
            "[ok] Group",
            "[ok] Members",
        ]
        assert "expires in 21 days" in lines[0]


async def test_test_connection_refuses_settings_that_break_a_rule(app: MsextApp) -> None:
    """Nothing is tested while a setting on the page is refused; the field says why."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, ENTRA_COMPANY_ID)
        await type_into(pilot, "#f-adsync-organizations-1-entra_id-group_id", "")
        await press_button(pilot, "#test-connection")
        assert text(app, "#test-result").startswith("Correct the settings marked above first")
        assert text(app, "#m-adsync-organizations-1-entra_id-group_id") == (
            "! set the group to enable AD sync"
        )


async def test_sync_now_runs_in_the_background_and_shows_its_outcome(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    """`s` syncs the organization now (a forced run): the line under the tabs gives its
    totals, History gains the run, AD Users the outcomes."""
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(adsync_app, pilot, ENTRA_COMPANY_ID, "tab-history")
        await pilot.press("s")
        await settle(pilot)
        line = text(adsync_app, "#sync-status")
        assert line.startswith("Sync finished: conflicts; 0 created, 0 updated")
        assert not screen.query_one("#sync-progress").display
        runs = rows_of(screen.query_one("#runs-table", DataTable))
        assert [row[1] for row in runs.values()] == ["forced", "schedule"]


async def test_sync_now_while_a_run_holds_the_organization_says_so_in_a_line(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    """Another run of the organization (the daemon's, the CLI's) holds its lock: Sync now
    says it is already running, in the status line, and starts nothing."""
    lock = organization_lock(adsync_profile.paths, ENTRA_COMPANY_ID)
    lock.acquire()
    try:
        async with adsync_app.run_test(size=(80, 24)) as pilot:
            await open_tab(adsync_app, pilot, ENTRA_COMPANY_ID, "tab-history")
            await pilot.press("s")
            await settle(pilot)
            line = text(adsync_app, "#sync-status")
            assert line.startswith("An AD sync of organization 1 is already running")
    finally:
        lock.release()
    assert len(adsync_profile.adsync.runs(ENTRA_COMPANY_ID)) == 1


async def test_the_ssl_column_reads_the_domain_controllers_certificate(
    adsync_app: MsextApp,
) -> None:
    """The LDAPS organization's SSL status comes from its server's certificate (the demo's
    domain controller, in the background); its date is in the line under the table."""
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(adsync_app, pilot)
        table = screen.query_one("#organizations-table", DataTable)
        assert rows_of(table)[str(LDAPS_COMPANY_ID)][5] == "valid"
        table.move_cursor(row=table.get_row_index(str(LDAPS_COMPANY_ID)))
        await pilot.pause()
        assert "SSL: valid until 20" in text(adsync_app, "#organization-detail")


@pytest.mark.parametrize(
    ("valid", "days", "detail", "cell"),
    [
        (True, 200, "valid until", "valid"),
        (True, 12, "valid until", "12 days left"),
        (False, -3, "expired on 2026-11-29", "expired"),
        (False, 300, "self-signed: not issued by a trusted CA", "self-signed"),
        (False, 300, "wrong host: issued for dc9.example, not dc1", "wrong host"),
        (False, 300, "issued by Corp CA, which is not trusted (set ca_file)", "untrusted"),
        (False, 400, "not valid before 2026-12-10", "not yet valid"),
    ],
)
def test_the_ssl_column_says_in_a_word_how_the_certificate_is(
    valid: bool, days: int, detail: str, cell: str
) -> None:
    status = CertificateStatus(
        valid, datetime.combine(DEMO_DAY, time(), UTC) + timedelta(days), detail
    )
    assert ssl_cell(status, DEMO_DAY) == cell


async def test_test_connection_of_ldaps_checks_the_certificate_and_the_bind(
    app: MsextApp,
) -> None:
    """Over LDAPS: the domain controller answers, its certificate, the bind account, the
    base DN and each filter, against the demo's domain controller."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, LDAPS_COMPANY_ID)
        await press_button(pilot, "#test-connection")
        lines = text(app, "#test-result").splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "[ok] TCP connect",
            "[ok] TLS certificate",
            "[ok] Bind",
            "[ok] Base DN",
            "[ok] Filter 1",
        ]


async def test_test_connection_stops_at_the_first_failed_step(app: MsextApp) -> None:
    """A bind account the domain controller does not know: the steps up to the bind pass,
    the bind fails with the directory's reason, nothing after it is tried."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, LDAPS_COMPANY_ID)
        await type_into(
            pilot, "#f-adsync-organizations-2-ldaps-bind_dn", "CN=nobody,DC=customer,DC=example"
        )
        await press_button(pilot, "#test-connection")
        lines = text(app, "#test-result").splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "[ok] TCP connect",
            "[ok] TLS certificate",
            "[failed] Bind",
        ]


async def test_sync_now_draws_its_progress_as_the_contacts_are_written(
    app: MsextApp, demo_profile: Profile
) -> None:
    """The demo's first run writes contacts: the bar follows the batches written (500 a
    batch) up to all of them, and is put away when the run ends."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_organization(app, pilot, ENTRA_COMPANY_ID)
        await pilot.press("s")
        await settle(pilot)
        bar = screen.query_one("#sync-progress", ProgressBar)
        result = demo_profile.adsync.runs(ENTRA_COMPANY_ID)[0]
        written = sum(result.totals[name] for name in ("created", "updated", "inactivated"))
        assert written and bar.total == bar.progress == written
        assert not bar.display
        assert text(app, "#sync-status").startswith(f"Sync finished: {result.outcome};")


async def test_sync_now_of_a_disabled_organization_says_why_not(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_organization(app, pilot, LDAPS_COMPANY_ID)
        app.screen.query_one("#f-adsync-organizations-2-enabled").focus()
        await pilot.press("enter", "ctrl+s", "s")
        await settle(pilot)
        assert text(app, "#sync-status") == (
            "Not synced: AD sync is not enabled for organization 2."
        )


async def test_a_conflict_is_resolved_by_a_new_contact(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        user_id = await first_conflict(adsync_app, pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("home", "enter")  # "Create a new contact for this user"
        await settle(pilot)
        assert "resolved: a new contact" in text(adsync_app, "#users-detail")
    resolution = adsync_profile.adsync.resolutions(ENTRA_COMPANY_ID)[user_id]
    assert resolution == Resolution(ResolutionKind.NEW)


async def test_an_organization_the_psa_no_longer_has_still_opens(
    adsync_app: MsextApp, adsync_profile: Profile
) -> None:
    """A company deleted in the PSA after its AD sync was set up: the list names it so, and
    its page opens with its history, saying in one line that its contacts could not be read
    (it raised out of the page before)."""
    adsync_profile.store.set_value("adsync.organizations.999.directory", "ldaps")
    adsync_profile.reload()
    async with adsync_app.run_test(size=(80, 24)) as pilot:
        screen = await open_organization(adsync_app, pilot, 999)
        assert screen.crumb == "Company 999 (not in the PSA)"
        messages = [str(note.message) for note in adsync_app._notifications]
        assert messages == ["PSA contacts not read: the PSA has no company 999."]
        assert text(adsync_app, "#run-detail").startswith("No run yet")

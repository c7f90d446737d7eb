"""Admin > ... > Active Directory (AD) Sync > one organization: Setup, AD Users, History,
and Sync now."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, ProgressBar, Static, TabbedContent, TabPane

from console.forms import Field
from console.screens.adsync.history_pane import HistoryPane
from console.screens.adsync.organizations import AdSyncScreen
from console.screens.adsync.setup_fields import (
    contact_field_items,
    entra_id_items,
    general_items,
    ldaps_items,
    organization_key,
)
from console.screens.adsync.users_pane import AdUsersPane
from console.screens.settings_page import SettingsPage, step_line
from engine.adsync.connection import check_directory
from engine.adsync.model import DirectoryError
from engine.adsync.run import AdSyncResult
from engine.adsync.secret_expiry import secret_expiry_warning
from engine.adsync.sync import sync_organization
from engine.errors import UserError
from engine.run_lock import SyncBusyError
from engine.settings.adsync import DirectoryType, OrganizationSync
from engine.settings.model import Settings


def sentence(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def result_line(result: AdSyncResult) -> str:
    """A finished run in one line: its outcome and totals."""
    totals = ", ".join(f"{amount:,} {name}" for name, amount in result.totals.items())
    said = f" {result.message}" if result.message else ""
    ended = "failed" if result.outcome == "failed" else "finished"
    return f"Sync {ended}: {result.outcome}; {totals}.{said}"


class OrganizationScreen(SettingsPage):
    """One PSA company's AD sync; a company without one is added by saving this page."""

    PARENT = AdSyncScreen
    PALETTE = False
    CSS_PATH: ClassVar = ["../settings.tcss", "adsync.tcss"]
    HELP = (
        "One organization's AD sync: its directory users become the organization's PSA"
        " contacts, one way, every 24 hours. **Setup**: enabled, the directory (Microsoft"
        " Entra ID through Microsoft Graph, the members of one group; or Active Directory"
        " over LDAPS, the users matching a filter under a base DN), its connection, and which"
        " contact fields sync; *Test connection* checks each step with the values on the page."
        " **AD Users**: every user in scope at the last run with its outcome (matched"
        " contact, new, inactive, conflict); `/` filters, **r** or Enter resolves a conflict:"
        " pick the contact, create a new one, or exclude the user. **History**: the last 10"
        " runs with their counts and errors. **s** syncs now (the saved settings)."
        " `ctrl+s` saves; leaving with unsaved changes asks first."
    )
    BINDINGS: ClassVar = [
        Binding("s", "sync_now", "Sync now", id="adsync_sync_now"),
    ]
    TODAY: ClassVar[Callable[[], date]] = date.today
    """The day the client secret's expiry is counted from (fixed in tests)."""

    def __init__(self, company_id: int, name: str) -> None:
        super().__init__()
        self.company_id = company_id
        self.organization_name = name
        self.key = organization_key(company_id)
        self.TABS = {"tab-setup": ("Setup", self.key)}  # type: ignore[misc]
        self.draft.add_defaults(self.key, OrganizationSync().model_dump(mode="json"))
        if company_id not in self.msext.profile.settings.adsync.organizations:
            # Not yet configured: this page adds it (unsaved until Save).
            self.draft.set(self.key, {"directory": str(DirectoryType.ENTRA_ID)})

    @property
    def crumb(self) -> str:
        return self.organization_name

    # -- layout ----------------------------------------------------------------------------

    def compose_page(self) -> ComposeResult:
        yield from self.compose_status()
        with TabbedContent(id="adsync-tabs"):
            with TabPane("Setup", id="tab-setup"), VerticalScroll(can_focus=False):
                yield from self.compose_setup()
            with TabPane("AD Users", id="tab-users"):
                yield AdUsersPane()
            with TabPane("History", id="tab-history"):
                yield HistoryPane()
        with Horizontal(id="sync-line"):
            yield Static("", id="sync-status", markup=False)
            yield ProgressBar(id="sync-progress", show_eta=False)
        yield from self.compose_actions()

    def compose_setup(self) -> ComposeResult:
        yield Static(
            f"Organization: {self.organization_name} (PSA company {self.company_id})",
            id="organization",
            markup=False,
        )
        yield from self.compose_fields(general_items(self.company_id))
        with Vertical(id="entra-id-fields", classes="directory"):
            yield Static("", id="secret-expiry", markup=False)
            yield from self.compose_fields(entra_id_items(self.company_id))
        with Vertical(id="ldaps-fields", classes="directory"):
            yield from self.compose_fields(ldaps_items(self.company_id))
        yield from self.compose_fields(contact_field_items(self.company_id))
        yield Static("Test connection", classes="section", markup=False)
        yield Button("Test connection", compact=True, id="test-connection")
        yield Static(
            "Signs in and reads the directory's scope with the settings on this page;"
            " nothing is written.",
            id="test-result",
            markup=False,
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.after_edit(None)
        self.query_one("#sync-progress").display = False
        self.reload()

    def reload(self) -> None:
        """The last run's users and the runs, from the AD Sync state."""
        profile = self.msext.profile
        state = profile.adsync
        try:
            contacts = profile.psa.company_contacts(self.company_id)
        except UserError as error:
            # The users and runs still show; only the contacts' names are missing.
            self.notify(f"PSA contacts not read: {error}.", severity="warning")
            contacts = []
        self.query_one(AdUsersPane).show(
            state.users(self.company_id), contacts, state.resolutions(self.company_id)
        )
        self.query_one(HistoryPane).show(state.runs(self.company_id))

    @on(AdUsersPane.Resolved)
    def _resolved(self, event: AdUsersPane.Resolved) -> None:
        """The admin's answer is kept at once; the next run applies it."""
        self.msext.profile.adsync.resolve(self.company_id, event.directory_id, event.resolution)
        self.reload()
        self.notify("Resolved: the next run (s, Sync now) applies it.")

    # -- Setup -----------------------------------------------------------------------------

    def directory(self) -> DirectoryType:
        return DirectoryType(self.draft.get(f"{self.key}.directory"))

    def after_edit(self, field: Field | None) -> None:
        """Only the chosen directory's fields are shown; the other's values stay."""
        entra_id = self.directory() is DirectoryType.ENTRA_ID
        self.query_one("#entra-id-fields").display = entra_id
        self.query_one("#ldaps-fields").display = not entra_id
        self.query_one("#secret-expiry", Static).update(self.expiry_warning())

    def expiry_warning(self) -> str:
        """The warning about the client secret's expiry, with the date on the page (a date
        not yet valid warns nothing: its field says what is wrong)."""
        raw = self.draft.get(f"{self.key}.entra_id.secret_expires")
        try:
            expires = date.fromisoformat(raw) if raw else None
        except ValueError:
            return ""
        return secret_expiry_warning(expires, type(self).TODAY())

    @on(Button.Pressed, "#test-connection")
    def _test(self) -> None:
        settings = self.settings_to_test()
        if settings is None:
            return
        self.query_one("#test-result", Static).update("Testing ...")
        self.run_test(settings)

    @work(thread=True, exclusive=True, group="adsync-test", exit_on_error=False)
    def run_test(self, settings: Settings) -> None:
        """Each step's line as soon as it is known."""
        lines: list[str] = []
        result = self.query_one("#test-result", Static)
        paths = self.msext.profile.paths
        try:
            for step in check_directory(self.company_id, settings, paths, type(self).TODAY()):
                lines.append(step_line(step))
                self.app.call_from_thread(result.update, "\n".join(lines))
        except (UserError, DirectoryError) as error:
            lines.append(f"[failed] {error}")
            self.app.call_from_thread(result.update, "\n".join(lines))

    # -- Sync now --------------------------------------------------------------------------

    def action_sync_now(self) -> None:
        if self.company_id not in self.msext.profile.settings.adsync.organizations:
            self.notify("Save the organization first: Sync now uses the saved settings.")
            return
        if self.draft.dirty:
            self.notify("Syncing with the saved settings; this page's changes are not saved.")
        self.query_one("#sync-status", Static).update("Syncing: reading the directory ...")
        bar = self.query_one("#sync-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.run_sync()

    @work(thread=True, exclusive=True, group="adsync-sync", exit_on_error=False)
    def run_sync(self) -> None:
        def progress(written: int, total: int) -> None:
            self.app.call_from_thread(self.show_progress, written, total)

        try:
            result = sync_organization(self.msext.profile, self.company_id, progress=progress)
        except SyncBusyError as error:
            # Not a failure: the run going on (the daemon's, the CLI's) does the work.
            self.app.call_from_thread(self.sync_ended, sentence(str(error)))
            return
        except UserError as error:
            self.app.call_from_thread(self.sync_ended, f"Not synced: {error}.")
            return
        self.app.call_from_thread(self.sync_ended, result_line(result))

    def show_progress(self, written: int, total: int) -> None:
        self.query_one("#sync-progress", ProgressBar).update(total=total, progress=written)
        self.query_one("#sync-status", Static).update(
            f"Syncing: {written:,} of {total:,} contacts written"
        )

    def sync_ended(self, line: str) -> None:
        self.query_one("#sync-progress").display = False
        self.query_one("#sync-status", Static).update(line)
        self.reload()

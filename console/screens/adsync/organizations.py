"""Admin > Extensions & Integrations > Microsoft Extensions > Active Directory (AD) Sync: the
organizations whose directory users become PSA contacts, and how their syncs went."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static
from textual.worker import Worker

from console.navigation import Navigator
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.adsync.compact_table import CompactTable
from console.screens.adsync.company_dialog import CompanyScreen
from console.screens.adsync.history_pane import run_summary
from console.screens.base import PageScreen
from engine.adsync.connection import certificate_status
from engine.adsync.model import CertificateStatus, DirectoryError
from engine.adsync.state import AdSyncRun, OrganizationState
from engine.adsync.sync import company_names, next_run
from engine.errors import UserError
from engine.humanize import count
from engine.psa.model import Company
from engine.settings.adsync import DirectoryType, OrganizationSync

log = logging.getLogger(__name__)
DIRECTORY_NAMES = {DirectoryType.ENTRA_ID: "Entra ID", DirectoryType.LDAPS: "LDAPS"}
WARN_DAYS = 30
"""A valid certificate this close to its end shows its days left instead of "valid"."""
RUN_MARKS = {"ok": "✓", "conflicts": "!", "held": "!", "running": "…"}
"""A run at a glance; anything else (errors, failed) is ✗."""


def runs_strip(runs: Sequence[AdSyncRun]) -> str:
    """The runs, newest first as the state gives them, drawn oldest first."""
    return "".join(RUN_MARKS.get(run.outcome or "running", "✗") for run in reversed(runs))


def ssl_cell(status: CertificateStatus, today: date) -> str:
    """The SSL column at a glance: valid (or how few days are left), or in a word why not;
    the line under the table gives the certificate's own words and date."""
    left = (status.not_after.date() - today).days if status.not_after else None
    if status.valid:
        return f"{left} days left" if left is not None and left <= WARN_DAYS else "valid"
    if left is not None and left < 0:
        return "expired"
    reason = status.detail.split(":")[0]
    if reason.startswith("not valid before"):
        return "not yet valid"
    if reason.startswith(("issued by", "not trusted")):
        return "untrusted"
    return reason[:12]


def source(sync: OrganizationSync) -> str:
    """Where the organization's users come from, in a phrase."""
    if sync.directory is DirectoryType.ENTRA_ID:
        entra = sync.entra_id
        group, tenant = entra.group_id or "(not set)", entra.tenant_id or "(not set)"
        return f"Entra ID group {group} of tenant {tenant}"
    ldaps = sync.ldaps
    return f"LDAPS {ldaps.host or '(no host)'}:{ldaps.port}, {ldaps.base_dn or '(no base DN)'}"


def last_sync(state: OrganizationState) -> str:
    return f"{state.last_run_at:%m-%d %H:%M}" if state.last_run_at else "never"


COLUMNS = {
    "organization": ("Organization", 19),
    "enabled": ("On", None),
    "type": ("AD type", None),
    "users": ("Users", None),
    "conflicts": ("Confl.", None),
    "ssl": ("SSL", None),
    "last_sync": ("Last sync", None),
    "runs": ("Last 10", None),
}
"""Key -> (header, fixed width): the name is cut in the table, whole below it."""


class AdSyncScreen(PageScreen):
    CRUMB = "Active Directory (AD) Sync"
    PARENT = MicrosoftExtensionsScreen
    SUMMARY = "Customer organizations' directory users become their PSA contacts"
    CSS_PATH = "adsync.tcss"
    HELP = (
        "The organizations (PSA companies) whose users come from their directory, Microsoft"
        " Entra ID or Active Directory over LDAPS, and become their PSA contacts, one way,"
        " every 24 hours. **Users**: directory users mapped to a contact; **Conflicts**: users"
        " whose mapping failed until you resolve them; **SSL**: the LDAPS certificate, valid"
        " (or its days left in its last month) or why not, its date below the table (— for"
        " Entra ID); **Last sync**: month-day and time, UTC;"
        " **Last 10**: the last runs, oldest first: ✓ synced, ! synced but with conflicts or"
        " inactivations held, ✗ failed or with errors. Enter opens an organization, **a** adds one."
    )
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Open", id="adsync_open"),
        Binding("a", "add", "Add organization", id="adsync_add"),
        Binding("j", "cursor_down", "Down", show=False, id="adsync_down"),
        Binding("k", "cursor_up", "Up", show=False, id="adsync_up"),
    ]

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        organizations = console.profile.settings.adsync.organizations
        if not organizations:
            return "no organization yet"
        enabled = sum(1 for sync in organizations.values() if sync.enabled)
        return f"{enabled} of {count(len(organizations), 'organization')} enabled"

    def compose_page(self) -> ComposeResult:
        yield Static("", id="organizations-intro", markup=False)
        table = CompactTable(id="organizations-table", cursor_type="row")
        for key, (header, width) in COLUMNS.items():
            table.add_column(header, key=key, width=width)
        yield table
        yield Static("", id="organization-detail", markup=False)

    def __init__(self) -> None:
        super().__init__()
        self.certificates: dict[int, str] = {}
        self.certificate_details: dict[int, str] = {}
        self.checking: Worker[None] | None = None

    def on_mount(self) -> None:
        self.fill()
        self.query_one("#organizations-table").focus()

    def check_certificates(self) -> None:
        """Start reading the certificates, unless a reading is under way (a new one would
        cancel it halfway; the next return to the page reads them again)."""
        if self.checking is None or self.checking.is_finished:
            self.checking = self.read_certificates()

    @work(thread=True, group="adsync-certificates", exit_on_error=False)
    def read_certificates(self) -> None:
        """Each LDAPS server's certificate, asked over the network: the table shows at once
        and each cell fills in as its server answers."""
        profile = self.msext.profile
        settings = profile.settings
        for company_id, sync in self.organizations().items():
            if sync.directory is not DirectoryType.LDAPS:
                continue
            try:
                status = certificate_status(company_id, settings, profile.paths, date.today())
                cell, detail = ssl_cell(status, date.today()), status.detail
            except (UserError, DirectoryError) as error:
                cell, detail = "unreachable", str(error)
            except Exception as error:
                log.exception("SSL status of organization %s", company_id)
                cell, detail = "unknown", f"not checked: {error} (details in the log)"
            self.app.call_from_thread(self.show_certificate, company_id, cell, detail)

    def show_certificate(self, company_id: int, cell: str, detail: str) -> None:
        self.certificates[company_id] = cell
        self.certificate_details[company_id] = detail
        table = self.query_one("#organizations-table", DataTable)
        if str(company_id) in table.rows:
            table.update_cell(str(company_id), "ssl", cell, update_width=True)
        self.describe()

    def on_screen_resume(self) -> None:
        """Shown, or back from an organization's page: its changes, and the certificates
        (a new organization's, a changed host's)."""
        if self.is_mounted:
            self.fill()
        self.check_certificates()

    def organizations(self) -> dict[int, OrganizationSync]:
        return self.msext.profile.settings.adsync.organizations

    def fill(self) -> None:
        try:
            self.names = company_names(self.msext.profile)
        except UserError as error:
            self.notify(f"PSA companies not read: {error}.", severity="warning")
            self.names = {}
        organizations = self.organizations()
        state = self.msext.profile.adsync
        counts = state.counts()
        table = self.query_one("#organizations-table", DataTable)
        row = table.cursor_row
        table.clear()
        ordered = sorted(organizations.items(), key=lambda item: self.name_of(item[0]))
        for company_id, sync in ordered:
            counted = counts.get(company_id, {})
            runs = state.runs(company_id)
            cells = (
                self.name_of(company_id),
                "yes" if sync.enabled else "no",
                DIRECTORY_NAMES[sync.directory],
                f"{counted.get('synced', 0):,}",
                f"{counted.get('conflicts', 0):,}",
                self.certificates.get(company_id, "checking")
                if sync.directory is DirectoryType.LDAPS
                else "—",
                last_sync(state.organization(company_id)),
                runs_strip(runs) or "none",
            )
            table.add_row(*cells, key=str(company_id))
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))
        self.query_one("#organizations-intro", Static).update(
            f"{count(len(organizations), 'organization')} with AD sync"
            f" ({sum(1 for sync in organizations.values() if sync.enabled)} enabled)."
            if organizations
            else "No organization syncs its directory yet: press a to add one."
        )

    def describe(self) -> None:
        """The highlighted organization in full: where its users come from, its last run,
        when it runs next, and its certificate."""
        company_id = self.current()
        detail = self.query_one("#organization-detail", Static)
        if company_id is None:
            detail.update("")
            return
        sync = self.organizations()[company_id]
        state = self.msext.profile.adsync
        lines = [f"{self.name_of(company_id)}: {source(sync)}."]
        runs = state.runs(company_id, limit=1)
        if runs:
            lines.append(f"Last run: {run_summary(runs[0])}")
        now = datetime.now(UTC)
        due = next_run(self.msext.profile, company_id, now)
        if not sync.enabled:
            lines.append("Not enabled: it does not run on schedule.")
        elif due <= now:
            lines.append("Next run: due now (msext daemon starts it; s on its page syncs now).")
        else:
            lines.append(f"Next run: {due:%Y-%m-%d %H:%M} UTC (24 hours after the last).")
        if company_id in self.certificate_details:
            lines.append(f"SSL: {self.certificate_details[company_id]}")
        detail.update("\n".join(lines))

    @on(DataTable.RowHighlighted, "#organizations-table")
    def _highlighted(self) -> None:
        self.describe()

    def name_of(self, company_id: int) -> str:
        return self.names.get(company_id, f"Company {company_id} (not in the PSA)")

    def current(self) -> int | None:
        table = self.query_one("#organizations-table", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(key.value or 0)

    @on(DataTable.RowSelected, "#organizations-table")
    def action_open(self) -> None:
        company_id = self.current()
        if company_id is not None:
            self.open(company_id, self.name_of(company_id))

    def open(self, company_id: int, name: str) -> None:
        self.app.push_screen(self.msext.adsync_page(company_id, name))

    def action_add(self) -> None:
        configured = self.organizations()
        try:
            companies = self.msext.profile.psa.companies()
        except UserError as error:
            self.notify(f"PSA companies not read: {error}.", severity="error")
            return
        available = [c for c in companies if c.id not in configured]

        def chosen(company: Company | None) -> None:
            if company is not None:
                self.open(company.id, company.name)

        self.app.push_screen(CompanyScreen(available), chosen)

    def action_cursor_down(self) -> None:
        self.query_one("#organizations-table", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#organizations-table", DataTable).action_cursor_up()

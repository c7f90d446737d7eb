"""The AD Users tab: every directory user in scope with the outcome of the organization's
last run (matched contact, new, inactive, conflict); Enter resolves a conflict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from console.screens.adsync.compact_table import CompactTable
from console.screens.adsync.resolve_dialog import ResolveScreen, contact_line
from console.tables import MAX_ROWS, capped_note
from console.widgets.filter import FilterInput
from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.state import UserRecord
from engine.humanize import count
from engine.psa.contacts import PsaContact

OUTCOMES = {
    "created": "new",
    "updated": "matched",
    "reactivated": "matched",
    "unchanged": "matched",
    "inactivated": "inactive",
    "held": "held",
    "conflict": "conflict",
    "excluded": "excluded",
    "incomplete": "error",
    "error": "error",
}
"""A run's change for a user, as the outcome the admin reads."""
DETAILS = {
    "created": "a new contact was created",
    "updated": "contact updated",
    "reactivated": "inactive contact reactivated",
    "unchanged": "contact already up to date",
    "inactivated": "contact made inactive (the account is disabled)",
    "held": "inactivation held by the guard",
    "excluded": "excluded by an administrator",
}

STEPS = {
    "mapping": " (mapped at an earlier run)",
    "resolution": " (as an administrator resolved it)",
    "e-mail": " by e-mail",
    "name": " by name",
}
"""How the user's contact was found, after the outcome."""


def outcome(user: UserRecord) -> str:
    if user.change == "unchanged" and not user.enabled:
        return "inactive"
    return OUTCOMES.get(user.change, user.change)


def resolution_words(resolution: Resolution, contacts: dict[int, PsaContact]) -> str:
    if resolution.kind is ResolutionKind.NEW:
        return "resolved: a new contact"
    if resolution.kind is ResolutionKind.EXCLUDE:
        return "resolved: excluded"
    contact = contacts.get(resolution.contact_id or 0)
    return f"resolved: {contact_line(contact) if contact else f'#{resolution.contact_id}'}"


class AdUsersPane(Vertical):
    """A filterable table of the organization's directory users and their outcomes."""

    BINDINGS: ClassVar = [
        Binding("r", "resolve", "Resolve conflict", id="adsync_resolve"),
    ]

    class Resolved(Message):
        """The admin resolved a user's conflict (saved in the state already)."""

        def __init__(self, directory_id: str, resolution: Resolution) -> None:
            super().__init__()
            self.directory_id = directory_id
            self.resolution = resolution

    def __init__(self) -> None:
        super().__init__(id="users-pane")
        self.users: list[UserRecord] = []
        self.contacts: dict[int, PsaContact] = {}
        self.resolutions: dict[str, Resolution] = {}

    def compose(self) -> ComposeResult:
        yield FilterInput(
            placeholder="Filter by name, login, e-mail or outcome  (/)", id="users-filter"
        )
        table = CompactTable(id="adsync-users-table", cursor_type="row")
        table.add_columns("Name", "Outcome", "PSA contact", "Login")
        yield table
        yield Static("", id="users-detail", markup=False)

    def show(
        self,
        users: Sequence[UserRecord],
        contacts: Sequence[PsaContact],
        resolutions: dict[str, Resolution],
    ) -> None:
        """The last run's users, the organization's contacts and the open resolutions."""
        self.users = list(users)
        self.contacts = {contact.id: contact for contact in contacts}
        self.resolutions = resolutions
        self.fill()

    def fill(self) -> None:
        table = self.query_one("#adsync-users-table", DataTable)
        needle = self.query_one("#users-filter", Input).value.strip().casefold()
        row = table.cursor_row
        table.clear()
        matches = [
            user
            for user in self.users
            if not needle
            or any(needle in part.casefold() for part in (user.name, user.login, user.email))
            or needle == outcome(user)
        ]
        for user in matches[:MAX_ROWS]:
            table.add_row(
                user.name,
                outcome(user) + (" *" if user.directory_id in self.resolutions else ""),
                self.contact_cell(user),
                user.login,
                key=user.directory_id,
            )
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))
        conflicts = sum(1 for user in self.users if user.change == "conflict")
        self.summary = (
            f"{count(len(self.users), 'user')} in scope at the last run,"
            f" {count(conflicts, 'conflict')}"
            + (" (r or Enter resolves one; * = resolved for the next run)." if conflicts else ".")
            + capped_note(min(len(matches), MAX_ROWS), len(matches), needle)
        )
        if not self.users:
            self.summary = "No run yet: Sync now (s) reads the directory and shows its users here."
        self.describe()

    def contact_cell(self, user: UserRecord) -> str:
        if user.contact_id is None:
            return "—"
        contact = self.contacts.get(user.contact_id)
        if contact is None:
            return f"#{user.contact_id}"
        values = contact.values
        return f"#{contact.id} {values.first_name} {values.last_name}"

    def current(self) -> UserRecord | None:
        table = self.query_one("#adsync-users-table", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next(user for user in self.users if user.directory_id == key.value)

    def describe(self) -> None:
        """The summary, and the highlighted user's outcome in full."""
        user = self.current()
        lines = [self.summary]
        if user is not None:
            said = user.conflict_detail or user.detail or DETAILS.get(user.change, "")
            how = STEPS.get(user.step or "", "") if user.contact_id else ""
            lines.append(
                f"{user.name} ({user.login}) <{user.email or 'no e-mail'}>: {outcome(user)}{how};"
                f" {said}"
            )
            resolution = self.resolutions.get(user.directory_id)
            if resolution is not None:
                lines.append(
                    resolution_words(resolution, self.contacts) + ", applied at the next run."
                )
        self.query_one("#users-detail", Static).update("\n".join(lines))

    @on(DataTable.RowHighlighted, "#adsync-users-table")
    def _highlighted(self) -> None:
        self.describe()

    @on(Input.Changed, "#users-filter")
    def _filtered(self) -> None:
        self.fill()

    @on(Input.Submitted, "#users-filter")
    def _filter_done(self) -> None:
        self.query_one("#adsync-users-table").focus()

    @on(DataTable.RowSelected, "#adsync-users-table")
    def action_resolve(self) -> None:
        user = self.current()
        if user is None:
            return
        if user.change != "conflict":
            self.app.bell()
            self.notify(
                f"{user.name} has no conflict to resolve ({outcome(user)}).", severity="warning"
            )
            return

        def chosen(resolution: Resolution | None) -> None:
            if resolution is not None:
                self.post_message(self.Resolved(user.directory_id, resolution))

        self.app.push_screen(ResolveScreen(user, list(self.contacts.values())), chosen)

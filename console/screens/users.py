"""Admin > Users: every PSA resource, and what the two extension modules do for it."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from console.charts import runs_at_a_glance
from console.navigation import Navigator
from console.screens.admin import AdminScreen
from console.screens.base import PageScreen
from console.tables import MAX_ROWS, capped_note, keep_long_lived
from console.widgets.filter import FilterInput
from console.widgets.table import PlainTable

RUNS_DRAWN = 8
"""Runs drawn in a user's row: items changed per run, oldest first."""


class UsersScreen(PageScreen):
    CRUMB = "Users"
    PARENT = AdminScreen
    SUMMARY = "PSA resources: what the Outlook and the Exchange extension do for each"
    CSS_PATH = "users.tcss"
    HELP = (
        "Every PSA resource with its mailbox, whether the MS Exchange extension is enabled"
        " for it, whether it runs the MS Outlook extension, and how many conflicts the two"
        " modules have for it; Runs draws the items changed in each of their last runs."
        " Type `/` to filter by name or e-mail, Enter to open a user."
    )
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Open", id="users_open"),
        Binding("j", "cursor_down", "Down", show=False, id="users_down"),
        Binding("k", "cursor_up", "Up", show=False, id="users_up"),
    ]

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        return f"{len(console.profile.resources())} resources"

    def compose_page(self) -> ComposeResult:
        yield FilterInput(placeholder="Filter by name or e-mail  (/)", id="users-filter")
        table = PlainTable(id="users-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Name", "Exchange", "Outlook", "Conflicts", "Runs", "Mailbox")
        yield table
        yield Static(id="users-note", markup=False)

    def on_mount(self) -> None:
        self._resources = self.msext.profile.resources()
        self._runs = self.msext.profile.state.recent_user_runs(RUNS_DRAWN)
        keep_long_lived()
        self._fill("")
        self.query_one("#users-table").focus()

    def on_screen_resume(self) -> None:
        if hasattr(self, "_resources"):
            self._runs = self.msext.profile.state.recent_user_runs(RUNS_DRAWN)
            self._fill(self.query_one("#users-filter", Input).value)

    def _fill(self, text: str) -> None:
        profile = self.msext.profile
        table = self.query_one("#users-table", DataTable)
        table.clear()
        needle = text.strip().lower()
        matches = [
            (resource, profile.mailbox_address(resource))
            for resource in self._resources
            if not needle
            or needle in resource.name.lower()
            or needle in profile.mailbox_address(resource)
        ]
        said = capped_note(min(len(matches), MAX_ROWS), len(matches), text.strip()).strip()
        note = self.query_one("#users-note", Static)
        note.update(said)
        note.display = bool(said)
        for resource, mailbox in matches[:MAX_ROWS]:
            comparison = profile.comparison(resource)
            conflicts = comparison.problems
            exchange = "enabled" if comparison.exchange_enabled else "off"
            table.add_row(
                resource.name,
                exchange if resource.active else "inactive",
                "yes" if comparison.outlook_installed else "no",
                str(len(conflicts)) if conflicts else "none",
                runs_at_a_glance(self._runs.get(resource.id, [])) or "never",
                mailbox,
                key=str(resource.id),
            )

    @on(Input.Changed, "#users-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#users-filter")
    def _filter_done(self) -> None:
        self.query_one("#users-table").focus()

    @on(DataTable.RowSelected, "#users-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(int(event.row_key.value or 0))

    def action_open(self) -> None:
        table = self.query_one("#users-table", DataTable)
        if table.row_count:
            row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            self._open(int(row_key.value or 0))

    def action_cursor_down(self) -> None:
        self.query_one("#users-table", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#users-table", DataTable).action_cursor_up()

    def _open(self, resource_id: int) -> None:
        resource = next(r for r in self._resources if r.id == resource_id)
        self.app.push_screen(self.msext.user_page(resource))

"""Picking the PSA company to add AD sync for: a filterable list of those without one."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from console.tables import MAX_ROWS, capped_note
from console.widgets.filter import FilterInput
from console.widgets.table import PlainTable
from engine.psa.model import Company


class CompanyScreen(ModalScreen[Company | None]):
    """Returns the chosen company, or ``None`` when cancelled."""

    CSS_PATH = "adsync.tcss"
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="company_cancel"),
    ]

    def __init__(self, companies: list[Company]) -> None:
        super().__init__()
        self.companies = companies

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="company-dialog"):
            yield Static(
                "Add AD sync for which organization? Only PSA companies without one are listed."
                " Enter adds it, Esc cancels.",
                classes="question",
                markup=False,
            )
            yield FilterInput(placeholder="Filter by name or id  (/)", id="company-filter")
            table = PlainTable(id="company-table", cursor_type="row")
            table.add_columns("Id", "Company")
            yield table
            yield Static("", id="company-note", markup=False)

    def on_mount(self) -> None:
        self.fill("")
        self.query_one("#company-filter").focus()

    def fill(self, text: str) -> None:
        needle = text.strip().lower()
        matches = [
            company
            for company in self.companies
            if not needle or needle in company.name.lower() or needle == str(company.id)
        ]
        table = self.query_one("#company-table", DataTable)
        table.clear()
        for company in matches[:MAX_ROWS]:
            table.add_row(str(company.id), company.name, key=str(company.id))
        note = capped_note(min(len(matches), MAX_ROWS), len(matches), text.strip()).strip()
        if not self.companies:
            note = "Every PSA company has AD sync already."
        self.query_one("#company-note", Static).update(note)

    @on(Input.Changed, "#company-filter")
    def _filtered(self, event: Input.Changed) -> None:
        self.fill(event.value)

    @on(Input.Submitted, "#company-filter")
    @on(DataTable.RowSelected, "#company-table")
    def _pick(self) -> None:
        table = self.query_one("#company-table", DataTable)
        if not table.row_count:
            return
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        chosen = int(key.value or 0)
        self.dismiss(next(company for company in self.companies if company.id == chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)

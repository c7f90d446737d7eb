"""Admin > Users > one user: what the Outlook and the Exchange extension each do (R20)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from console.screens.base import PageScreen
from console.screens.users import UsersScreen
from engine.capabilities import Comparison, RowState
from engine.psa.model import Resource


class UserScreen(PageScreen):
    PARENT = UsersScreen
    PALETTE = False
    CSS_PATH = "user.tcss"
    HELP = (
        "One user, the MS Outlook extension and the MS Exchange extension side by side: each"
        " row of the source document's comparison, the state of each module for this user"
        " (on, off, blocked by limit, disabled, not available, info) and, below the table,"
        " the full text of the highlighted row. Conflicts between the modules come last,"
        " each with its remedy step by step."
    )
    BINDINGS: ClassVar = [
        Binding("j", "cursor_down", "Down", show=False, id="user_down"),
        Binding("k", "cursor_up", "Up", show=False, id="user_up"),
    ]

    def __init__(self, resource: Resource) -> None:
        super().__init__()
        self.resource = resource

    @property
    def crumb(self) -> str:
        return self.resource.name

    def compose_page(self) -> ComposeResult:
        self.comparison = self.msext.profile.comparison(self.resource)
        with TabbedContent(id="user-tabs"), TabPane("Comparison", id="tab-comparison"):
            yield Static(_summary(self.comparison), id="comparison-summary", markup=False)
            table: DataTable[str] = DataTable(id="comparison-table", cursor_type="row")
            table.add_columns("Row", "MS Outlook", "MS Exchange")
            for index, state in enumerate(self.comparison.rows):
                table.add_row(
                    state.row.label, str(state.outlook), str(state.exchange), key=str(index)
                )
            yield table
            with VerticalScroll(id="comparison-detail"):
                yield Static(id="row-detail", markup=False)
                yield Static(_conflicts(self.comparison), id="conflicts", markup=False)

    def on_mount(self) -> None:
        self.query_one("#comparison-table").focus()
        self._show_row(0)

    @on(DataTable.RowHighlighted, "#comparison-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_row(int(event.row_key.value or 0))

    def _show_row(self, index: int) -> None:
        state = self.comparison.rows[index]
        self.query_one("#row-detail", Static).update(_row_detail(state))

    def action_cursor_down(self) -> None:
        self.query_one("#comparison-table", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#comparison-table", DataTable).action_cursor_up()


def _summary(comparison: Comparison) -> str:
    exchange = "enabled" if comparison.exchange_enabled else "not enabled"
    outlook = "installed" if comparison.outlook_installed else "not installed"
    return (
        f"{comparison.user.email}   MS Exchange: {exchange}   MS Outlook: {outlook}"
        f"   Conflicts: {len(comparison.problems) or 'none'}"
    )


def _row_detail(state: RowState) -> str:
    rules = f" ({', '.join(state.row.rules)})" if state.row.rules else ""
    return (
        f"{state.row.section} / {state.row.label}{rules}\n"
        f"MS Outlook: {state.outlook}, {state.outlook_detail}. {state.row.outlook}\n"
        f"MS Exchange: {state.exchange}, {state.exchange_detail}. {state.row.exchange}"
    )


def _conflicts(comparison: Comparison) -> str:
    actions = ", ".join(action for _, action, _ in comparison.actions)
    lines = [f"\nOutlook add-in actions (MS Outlook only, never MS Exchange): {actions}."]
    if not comparison.conflicts:
        lines.append("\nNo conflicts between the modules for this user.")
    for conflict in comparison.conflicts:
        lines.append(f"\n[{conflict.severity}] {conflict.title} ({', '.join(conflict.rules)})")
        lines.append(conflict.detail)
        lines.extend(f"  {n}. {step}" for n, step in enumerate(conflict.remedy, start=1))
    return "\n".join(lines)

"""What the MS Outlook and the MS Exchange extension each do for one user (R20)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from console.widgets.table import PlainTable
from engine.exchange.capabilities import Comparison, RowState


class ComparisonPane(Vertical):
    DEFAULT_CSS = """
    ComparisonPane #comparison-summary { padding: 0 1; color: $text-muted; }
    ComparisonPane #comparison-table { height: 1fr; min-height: 6; }
    ComparisonPane #comparison-detail {
        height: 1fr; min-height: 4; border-top: solid $primary; padding: 0 1;
    }
    """

    def __init__(self, comparison: Comparison) -> None:
        super().__init__()
        self.comparison = comparison

    def compose(self) -> ComposeResult:
        yield Static(_summary(self.comparison), id="comparison-summary", markup=False)
        table = PlainTable(id="comparison-table", cursor_type="row")
        table.add_columns("Row", "MS Outlook", "MS Exchange")
        for index, state in enumerate(self.comparison.rows):
            table.add_row(state.row.label, str(state.outlook), str(state.exchange), key=str(index))
        yield table
        with VerticalScroll(id="comparison-detail", can_focus=False):
            yield Static(id="row-detail", markup=False)
            yield Static(_conflicts(self.comparison), id="conflicts", markup=False)

    def on_mount(self) -> None:
        self._show_row(0)

    @on(DataTable.RowHighlighted, "#comparison-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_row(int(event.row_key.value or 0))

    def _show_row(self, index: int) -> None:
        self.query_one("#row-detail", Static).update(_row_detail(self.comparison.rows[index]))


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

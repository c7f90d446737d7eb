"""The History tab: the organization's last 10 runs with their counts, and the errors of the
highlighted one."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from console.screens.adsync.compact_table import CompactTable
from engine.adsync.state import TOTALS, AdSyncRun

HEADERS = ("New", "Upd", "React", "Inact", "Same", "Confl", "Err")
"""Short names of the run totals (created, updated, ...), in :data:`TOTALS`' order."""


def when(run: AdSyncRun) -> str:
    return f"{run.started_at:%Y-%m-%d %H:%M}"


def run_summary(run: AdSyncRun) -> str:
    """A run in words: its totals and why it ended as it did."""
    dry = " (dry run)" if run.dry_run else ""
    totals = ", ".join(f"{run.totals[name]:,} {name}" for name in TOTALS)
    held = f", {run.held:,} inactivations held" if run.held else ""
    message = f" {run.message}" if run.message else ""
    return f"{when(run)} UTC ({run.trigger}{dry}): {run.outcome}; {totals}{held}.{message}"


class HistoryPane(Vertical):
    def compose(self) -> ComposeResult:
        table = CompactTable(id="runs-table", cursor_type="row")
        table.add_columns("Started (UTC)", "By", "Outcome", *HEADERS)
        yield table
        with VerticalScroll(id="run-detail-scroll"):
            yield Static("", id="run-detail", markup=False)

    def show(self, runs: Sequence[AdSyncRun]) -> None:
        """The runs, newest first."""
        self.runs = {str(run.id): run for run in runs}
        table = self.query_one("#runs-table", DataTable)
        table.clear()
        for run in runs:
            table.add_row(
                when(run),
                run.trigger,
                run.outcome or "running",
                *(f"{run.totals[name]:,}" for name in TOTALS),
                key=str(run.id),
            )
        self.describe()

    def describe(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        if not table.row_count:
            text = "No run yet: Sync now (s) runs one; the last 10 are kept here."
        else:
            key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
            run = self.runs[str(key.value)]
            text = "\n".join((f"Run of {run_summary(run)}", *run.errors))
        self.query_one("#run-detail", Static).update(text)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self) -> None:
        self.describe()

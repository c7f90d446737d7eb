"""One user's recent runs, newest first, as the state database recorded them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.charts import runs_at_a_glance
from console.widgets.table import PlainTable
from engine.psa.model import Resource
from engine.state import UserRun

if TYPE_CHECKING:
    from engine.profile import Profile


RUNS_DRAWN = 20
"""Runs the summary's sparkline draws."""


class RunsPane(Vertical):
    DEFAULT_CSS = """
    RunsPane #runs-summary { padding: 0 1; color: $text-muted; }
    RunsPane #runs-table { height: 1fr; }
    RunsPane #run-detail {
        height: auto; max-height: 5; border-top: solid $primary; padding: 0 1;
    }
    """

    def __init__(self, profile: Profile, user: Resource) -> None:
        super().__init__()
        self.profile = profile
        self.user = user
        self.runs: list[UserRun] = []

    def compose(self) -> ComposeResult:
        yield Static(id="runs-summary", markup=False)
        table = PlainTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("Run", "Started", "Outcome", "New", "Upd", "Del", "Imp", "Err", "Message")
        yield table
        yield Static(id="run-detail", markup=False)

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        runs = self.runs = self.profile.state.user_runs(self.user.id, limit=50)
        table = self.query_one("#runs-table", DataTable)
        table.clear()
        for run in runs:
            table.add_row(
                str(run.run_id),
                f"{run.started_at:%Y-%m-%d %H:%M}",
                run.outcome,
                str(run.created),
                str(run.updated),
                str(run.deleted),
                str(run.imported),
                str(run.errors),
                run.message,
                key=str(run.run_id),
            )
        count = f"{len(runs)} run{'' if len(runs) == 1 else 's'}"
        glance = runs_at_a_glance(runs[:RUNS_DRAWN][::-1])
        summary = (
            f"{count} of {self.user.name}, newest first (times in UTC). Items changed,"
            f" oldest to newest: {glance}"
            if runs
            else f"No run has synced {self.user.name} yet."
        )
        self.query_one("#runs-summary", Static).update(summary)
        self._show(0)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    def _show(self, index: int) -> None:
        detail = ""
        if index < len(self.runs):
            run = self.runs[index]
            took = (run.finished_at - run.started_at).total_seconds()
            detail = f"Run {run.run_id}: {run.outcome} after {took:.1f} s, {run.pending} pending."
            if run.message:
                detail += f"\n{run.message}"
        self.query_one("#run-detail", Static).update(detail)

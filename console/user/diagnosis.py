"""Why one user's sync fails: the ordered checks of ``msext doctor``, run in a worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from console.widgets.table import PlainTable
from engine.exchange.diagnosis import Check, Diagnosis, Verdict, diagnose
from engine.psa.model import Resource

if TYPE_CHECKING:
    from engine.profile import Profile

MARKS = {
    Verdict.OK: "ok",
    Verdict.WARNING: "WARNING",
    Verdict.FAILED: "FAILED",
    Verdict.SKIPPED: "skipped",
}


class DiagnosisPane(Vertical):
    """Runs the checks when first shown and on ``r``; Exchange is asked, so it takes a moment."""

    DEFAULT_CSS = """
    DiagnosisPane #diagnosis-summary { padding: 0 1; }
    DiagnosisPane #diagnosis-table { height: 1fr; min-height: 6; }
    DiagnosisPane #diagnosis-detail {
        height: 1fr; min-height: 4; border-top: solid $primary; padding: 0 1;
    }
    """

    def __init__(self, profile: Profile, user: Resource) -> None:
        super().__init__()
        self.profile = profile
        self.user = user
        self.diagnosis: Diagnosis | None = None

    def compose(self) -> ComposeResult:
        yield Static("Not checked yet.", id="diagnosis-summary", markup=False)
        table = PlainTable(id="diagnosis-table", cursor_type="row")
        table.add_columns("Result", "Check", "Evidence")
        yield table
        # Focusable: Tab reaches the full reason and the arrows scroll it.
        with VerticalScroll(id="diagnosis-detail"):
            yield Static(id="check-detail", markup=False)

    def run_checks(self) -> None:
        self.query_one("#diagnosis-summary", Static).update(
            f"Checking {self.user.name}: PSA, settings, Exchange, last runs..."
        )
        self.query_one("#diagnosis-table").loading = True
        self._diagnose()

    @work(thread=True, exclusive=True, group="diagnosis", exit_on_error=False)
    def _diagnose(self) -> None:
        diagnosis = diagnose(self.profile, self.user)
        self.app.call_from_thread(self._show, diagnosis)

    def _show(self, diagnosis: Diagnosis) -> None:
        self.diagnosis = diagnosis
        counts = dict.fromkeys(Verdict, 0)
        for check in diagnosis.checks:
            counts[check.verdict] += 1
        self.query_one("#diagnosis-summary", Static).update(
            f"Verdict: {diagnosis.verdict.upper()}   {counts[Verdict.FAILED]} failed,"
            f" {counts[Verdict.WARNING]} warnings, {counts[Verdict.OK]} ok,"
            f" {counts[Verdict.SKIPPED]} skipped   (r checks again)"
        )
        table = self.query_one("#diagnosis-table", DataTable)
        table.loading = False
        table.clear()
        for index, check in enumerate(diagnosis.checks):
            table.add_row(MARKS[check.verdict], check.title, check.evidence, key=str(index))
        first_problem = next(
            (
                index
                for index, check in enumerate(diagnosis.checks)
                if check.verdict in (Verdict.FAILED, Verdict.WARNING)
            ),
            0,
        )
        table.move_cursor(row=first_problem)
        self._show_check(first_problem)

    @on(DataTable.RowHighlighted, "#diagnosis-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_check(int(event.row_key.value or 0))

    def _show_check(self, index: int) -> None:
        if self.diagnosis and index < len(self.diagnosis.checks):
            self.query_one("#check-detail", Static).update(_detail(self.diagnosis.checks[index]))


def _detail(check: Check) -> str:
    lines = [f"{check.title}: {check.verdict}", check.evidence]
    if check.fix:
        lines.append(f"Fix: {check.fix}")
    lines.extend(f"  {n}. {step}" for n, step in enumerate(check.steps, start=1))
    return "\n".join(lines)

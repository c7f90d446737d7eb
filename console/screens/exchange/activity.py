"""Admin > Sync activity: runs in progress, their log, and "sync now" for one user or all."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Log, ProgressBar, Select, Static

from console.charts import run_history, runs_at_a_glance
from console.navigation import Navigator
from console.screens.admin import AdminScreen
from console.screens.base import PageScreen
from console.sync_session import Level, LogEntry, UserProgress
from console.widgets.filter import FilterInput
from console.widgets.table import PlainTable
from engine.errors import UserError
from engine.exchange.sync import select_users
from engine.exchange.triggers import MAILBOX, PSA_CHANGE, trigger_label, written_side
from engine.humanize import count
from engine.psa.model import Resource
from engine.state import UserRun

if TYPE_CHECKING:
    from console.sync_session import SyncSession

BAR_WIDTH = 10
RUNS_SHOWN = 10
"""Runs drawn in the sparklines: as many as fit beside the bar's width."""
LEVELS: list[tuple[str, int]] = [
    ("All levels", 0),
    ("Warnings and errors", Level.WARNING),
    ("Errors only", Level.ERROR),
]


class ActivityScreen(PageScreen):
    CRUMB = "Sync activity"
    PARENT = AdminScreen
    SUMMARY = "Runs in progress with their log; sync now for one user or all"
    CSS_PATH = "activity.tcss"
    HELP = (
        "What the engine is doing. **s** syncs every enabled user now, **u** only the user"
        " under the cursor; the run goes on in the background, so you can keep working and"
        " even leave this page. Each user has a progress bar, the bar on top counts finished"
        " users, and a finished run shows its totals on the top line (the same as `msext"
        " status`). Between runs each user shows the items changed in their last runs as a"
        " sparkline and the last run's counts; the line on top draws the last runs' items"
        " changed, errors and duration. The pane under the table gives the highlighted user's"
        " last outcome, what triggered it (the schedule, a PSA change, a mailbox notification,"
        " an admin) and how long after the change it was written, and its full reason (Tab to"
        " it, then arrows scroll); the table marks a run a change started (`PSA 3s`, `mail"
        " 41s`). **x** cancels: users"
        " already syncing finish their current step. The log"
        " below can be narrowed to warnings and errors, or to users whose name contains the"
        " text typed after **/**."
    )
    BINDINGS: ClassVar = [
        Binding("s", "sync_all", "Sync all", id="activity_sync_all"),
        Binding("u", "sync_user", "Sync user", id="activity_sync_user"),
        Binding("x", "cancel", "Cancel", id="activity_cancel"),
        Binding("j", "cursor_down", "Down", show=False, id="activity_down"),
        Binding("k", "cursor_up", "Up", show=False, id="activity_up"),
    ]

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        return "running" if console.sync_session.state.running else ""

    def compose_page(self) -> ComposeResult:
        yield Static(id="activity-status", markup=False)
        yield Static(id="activity-history", markup=False)
        yield ProgressBar(id="activity-overall", show_eta=False)
        table = PlainTable(id="activity-users", cursor_type="row")
        table.add_columns("User", "Runs / progress", "Last run (UTC)", "New", "Upd", "Del", "Err")
        yield table
        with VerticalScroll(id="activity-detail"):
            yield Static(id="activity-reason", markup=False)
        with Horizontal(id="activity-filters"):
            yield Select(LEVELS, value=0, allow_blank=False, id="activity-level", compact=True)
            yield FilterInput(placeholder="Filter log by user  (/)", id="activity-who")
        yield Log(id="activity-log", max_lines=5000)

    @property
    def session(self) -> SyncSession:
        return self.msext.sync_session

    def on_mount(self) -> None:
        self._users = self._enabled_users()
        self._shown = 0
        self._history: dict[int, list[UserRun]] = {}
        self._shown_result: object = None
        self._fill_users()
        self.session.load_history()
        self._refresh()
        self.session.subscribe(self._refresh)
        self.query_one("#activity-users").focus()

    def on_unmount(self) -> None:
        self.session.unsubscribe(self._refresh)

    def _enabled_users(self) -> list[Resource]:
        try:
            return select_users(self.msext.profile)
        except UserError as error:
            self.notify(str(error), severity="warning")
            return []

    # -- showing the session ---------------------------------------------------------------

    def _fill_users(self) -> None:
        """Each user as the state store last saw them: recent runs and the last one's counts."""
        table = self.query_one("#activity-users", DataTable)
        row = table.cursor_row
        table.clear()
        store = self.msext.profile.state
        states = store.users()
        self._history = store.recent_user_runs(RUNS_SHOWN)
        for user in self._users:
            state = states.get(user.id)
            runs = self._history.get(user.id, [])
            last = "never synced"
            if state is not None and state.last_attempt_at is not None:
                why = _why(runs[-1]) if runs else ""
                last = f"{state.last_outcome} {state.last_attempt_at:%m-%d %H:%M} {why}".strip()
            counts = _counts(runs[-1]) if runs else ("", "", "", "")
            glance = runs_at_a_glance(runs) or _bar(0.0, idle=True)
            table.add_row(user.name, glance, last, *counts, key=str(user.id))
        table.move_cursor(row=row)
        self.query_one("#activity-history", Static).update(
            run_history(store.runs(limit=RUNS_SHOWN)[::-1]) or "No run recorded yet."
        )

    def _refresh(self) -> None:
        state = self.session.state
        self.query_one("#activity-status", Static).update(self._status_line())
        bar = self.query_one("#activity-overall", ProgressBar)
        # The bar and the history take turns on one line: the log below keeps its height,
        # and so its end, and goes on following new lines when a run starts.
        bar.display = state.running
        self.query_one("#activity-history").display = not state.running
        if state.users:
            bar.update(total=len(state.users), progress=state.done)
        if not state.running and state.result is not None and self._shown_result != state.result:
            self._shown_result = state.result
            self._fill_users()
        table = self.query_one("#activity-users", DataTable)
        for user_id, progress in state.users.items():
            if str(user_id) in table.rows:
                for column, value in enumerate(_cells(progress), start=1):
                    table.update_cell_at((table.get_row_index(str(user_id)), column), value)
        self._write_log(state.log)
        self._show_reason()

    def _status_line(self) -> str:
        state = self.session.state
        if state.running:
            verb = "Cancelling" if state.cancelling else "Syncing"
            return f"{verb}: {state.done} of {count(len(state.users), 'user')} done."
        if state.result is not None:
            totals = state.result.totals
            return (
                f"Run {state.result.run_id} ({state.elapsed:.1f} s): {state.result.outcome};"
                f" created {totals['created']}, updated {totals['updated']}, deleted"
                f" {totals['deleted']}, errors {totals['errors']}."
            )
        runs = self.msext.profile.state.runs(limit=1)
        if not runs:
            return f"No run yet. {count(len(self._users), 'user')} enabled; s syncs them all now."
        run = runs[0]
        return (
            f"Last run {run.id} ({run.trigger}): {run.outcome or 'unfinished'}; created"
            f" {run.created}, updated {run.updated}, deleted {run.deleted}, errors {run.errors}."
        )

    def _write_log(self, entries: list[LogEntry]) -> None:
        log = self.query_one("#activity-log", Log)
        level = int(self.query_one("#activity-level", Select).value)  # type: ignore[arg-type]
        who = self.query_one("#activity-who", Input).value.strip().lower()
        fresh = [
            entry
            for entry in entries[self._shown :]
            if entry.level >= level and (not who or who in entry.user.lower())
        ]
        self._shown = len(entries)
        if fresh:
            log.write_lines(entry.line() for entry in fresh)

    @on(DataTable.RowHighlighted, "#activity-users")
    def _show_reason(self) -> None:
        """The highlighted user's last outcome in full, wrapped: the log and the table cut
        a long reason off at the screen's edge."""
        table = self.query_one("#activity-users", DataTable)
        if not table.row_count:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        user_id = int(row_key.value or 0)
        progress = self.session.state.users.get(user_id)
        runs = self._history.get(user_id, [])
        reason = self.query_one("#activity-reason", Static)
        if progress is not None and progress.result is not None:
            result = progress.result
            reason.update(f"{result.name}: {result.outcome}. {result.message}".strip())
        elif progress is not None:
            reason.update(f"{progress.name}: {progress.phase}.")
        elif runs:
            run = runs[-1]
            name = table.get_row(row_key)[0]
            reason.update(
                f"{name}: {run.outcome} in run {run.run_id}"
                f" ({run.started_at:%m-%d %H:%M} UTC){_because(run)}. {run.message}".strip()
            )
        else:
            reason.update("Not synced yet.")

    @on(Select.Changed, "#activity-level")
    @on(Input.Changed, "#activity-who")
    def _filter_changed(self) -> None:
        self.query_one("#activity-log", Log).clear()
        self._shown = 0
        self._write_log(self.session.state.log)

    @on(Input.Submitted, "#activity-who")
    def _filter_done(self) -> None:
        self.query_one("#activity-users").focus()

    # -- keys ------------------------------------------------------------------------------

    def action_sync_all(self) -> None:
        self.session.start(self._users)

    def action_sync_user(self) -> None:
        table = self.query_one("#activity-users", DataTable)
        if not table.row_count:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        self.session.start([user for user in self._users if str(user.id) == row_key.value])

    def action_cancel(self) -> None:
        if self.session.state.running:
            self.session.cancel()
        else:
            self.notify("No sync is running.")

    def action_cursor_down(self) -> None:
        self.query_one("#activity-users", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#activity-users", DataTable).action_cursor_up()


def _counts(run: UserRun) -> tuple[str, str, str, str]:
    """New, updated, deleted (either side) and errors of a run, as `msext status` counts."""
    return (str(run.created), str(run.updated), str(run.deleted), str(run.errors))


_SHORT = {PSA_CHANGE: "PSA", MAILBOX: "mail"}
"""The event-driven triggers in the table's narrow column (the schedule and an admin's run
are the ordinary case there); the pane below names every trigger in full."""


def _why(run: UserRun) -> str:
    """A run started by a change, with its latency when known: ``PSA 3s``; else nothing."""
    short = _SHORT.get(run.trigger, "")
    if short and run.latency_s is not None:
        return f"{short} {_seconds(run.latency_s)}"
    return short


def _because(run: UserRun) -> str:
    """The trigger and latency in words, for the pane under the table."""
    if not run.trigger:
        return ""
    side = written_side(run.trigger)
    after = (
        f", written to the {'mailbox' if side == 'mailbox' else 'PSA'}"
        f" {_seconds(run.latency_s)} after the change"
        if run.latency_s is not None
        else ""
    )
    return f", trigger: {trigger_label(run.trigger)}{after}"


def _seconds(value: float | None) -> str:
    """A latency in the fewest characters: 3s, 41s, 12m, 2h."""
    seconds = max(0.0, value or 0.0)
    if seconds < 100:
        return f"{seconds:.0f}s"
    if seconds < 6000:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _cells(progress: UserProgress) -> tuple[str, ...]:
    result = progress.result
    if result is None:
        return (_bar(progress.fraction), progress.phase, "", "", "", "")
    totals = result.totals
    return (
        _bar(1.0),
        result.outcome,
        str(totals["created"]),
        str(totals["updated"]),
        str(totals["deleted"]),
        str(result.errors),
    )


def _bar(fraction: float, idle: bool = False) -> str:
    if idle:
        return "·" * BAR_WIDTH + "     "
    filled = round(fraction * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled) + f" {fraction:4.0%}"

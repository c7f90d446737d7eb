"""Admin > Users > one user: the two modules side by side, diagnosis, runs, item history."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, TabbedContent, TabPane

from console.screens.base import PageScreen
from console.screens.users import UsersScreen
from console.user.comparison import ComparisonPane
from console.user.diagnosis import DiagnosisPane
from console.user.history import HistoryPane
from console.user.runs import RunsPane
from engine.errors import UserError
from engine.exchange.sync import select_users
from engine.psa.model import Resource


class UserScreen(PageScreen):
    PARENT = UsersScreen
    PALETTE = False
    CSS_PATH = "user.tcss"
    HELP = (
        "One user, for support. **Comparison**: the MS Outlook and the MS Exchange extension"
        " side by side, row by row of the source document, with each conflict and its remedy."
        " **Diagnosis**: the checks of `msext doctor` in order (PSA, settings, Exchange,"
        " impersonation or, with Graph, the access policy and permissions, folders, last run,"
        " failed items, conflicts, limits, deletion guard),"
        " each with its evidence and a one-line fix; **r** checks again. **Runs**: this user's"
        " recent runs. **Items**: search a subject, a PSA record key or a mailbox item id and"
        " see every event the engine recorded for it, with the rule that decided."
        " **s** syncs this user now (progress on the Sync activity page)."
    )
    BINDINGS: ClassVar = [
        Binding("s", "sync_now", "Sync now", id="user_sync"),
        Binding("r", "check_again", "Check again", id="user_check"),
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
        profile = self.msext.profile
        with TabbedContent(id="user-tabs"):
            with TabPane("Comparison", id="tab-comparison"):
                yield ComparisonPane(profile.comparison(self.resource))
            with TabPane("Diagnosis", id="tab-diagnosis"):
                yield DiagnosisPane(profile, self.resource)
            with TabPane("Runs", id="tab-runs"):
                yield RunsPane(profile, self.resource)
            with TabPane("Items", id="tab-items"):
                yield HistoryPane(profile, self.resource)

    def on_mount(self) -> None:
        self.query_one("#comparison-table").focus()
        self.msext.sync_session.subscribe(self._session_changed)

    def on_unmount(self) -> None:
        self.msext.sync_session.unsubscribe(self._session_changed)

    @on(TabbedContent.TabActivated, "#user-tabs")
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        diagnosis = self.query_one(DiagnosisPane)
        if event.pane.id == "tab-diagnosis" and diagnosis.diagnosis is None:
            diagnosis.run_checks()
        self.refresh_bindings()

    def _session_changed(self) -> None:
        """After a run, show its outcome here too."""
        if not self.msext.sync_session.state.running:
            self.query_one(RunsPane).reload()
            self.query_one(HistoryPane).reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "check_again":
            return self.query_one("#user-tabs", TabbedContent).active == "tab-diagnosis"
        return super().check_action(action, parameters)

    def action_check_again(self) -> None:
        self.query_one(DiagnosisPane).run_checks()

    def action_sync_now(self) -> None:
        try:
            users = select_users(self.msext.profile, [str(self.resource.id)])
        except UserError as error:
            self.notify(f"Not synced: {error}.", severity="warning")
            return
        if self.msext.sync_session.start(users):
            self.notify(f"Syncing {self.resource.name}; progress on Admin > Sync activity.")

    def _focused_table(self) -> DataTable | None:
        return self.focused if isinstance(self.focused, DataTable) else None

    def action_cursor_down(self) -> None:
        if table := self._focused_table():
            table.action_cursor_down()

    def action_cursor_up(self) -> None:
        if table := self._focused_table():
            table.action_cursor_up()

"""One record's or item's history: every event the engine recorded, with the deciding rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from console.widgets.filter import FilterInput
from console.widgets.table import PlainTable
from engine.psa.model import Resource
from engine.state import Event

if TYPE_CHECKING:
    from engine.profile import Profile

LIMIT = 200


class HistoryPane(Vertical):
    DEFAULT_CSS = """
    HistoryPane #history-search { margin: 0 0 0 0; }
    HistoryPane #history-table { height: 1fr; min-height: 5; }
    HistoryPane #history-detail {
        height: auto; max-height: 6; border-top: solid $primary; padding: 0 1;
    }
    """

    def __init__(self, profile: Profile, user: Resource) -> None:
        super().__init__()
        self.profile = profile
        self.user = user
        self.events: list[Event] = []

    def compose(self) -> ComposeResult:
        yield FilterInput(
            placeholder="Subject, record key (appointment:12) or item id; Enter searches  (/)",
            id="history-search",
        )
        table = PlainTable(id="history-table", cursor_type="row")
        table.add_columns("When (UTC)", "Event", "Rule", "Record", "Subject")
        yield table
        with VerticalScroll(id="history-detail", can_focus=False):
            yield Static(id="event-detail", markup=False)

    def on_mount(self) -> None:
        self.reload()

    @on(Input.Submitted, "#history-search")
    def _search(self) -> None:
        self.reload()
        self.query_one("#history-table").focus()

    def reload(self) -> None:
        query = self.query_one("#history-search", Input).value.strip()
        state = self.profile.state
        if query:
            self.events = state.history(self.user.id, query, limit=LIMIT)
        else:
            self.events = state.events(self.user.id, limit=LIMIT)
        subjects = state.subjects(self.user.id, (e.item_id for e in self.events if e.item_id))
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for index, event in enumerate(self.events):
            table.add_row(
                f"{event.at:%m-%d %H:%M:%S}",
                f"{event.verb} {event.outcome}",
                event.rule,
                event.key or "-",
                subjects.get(event.item_id or "", ""),
                key=str(index),
            )
        if self.events:
            self._show(0)
        else:
            what = f"for {query!r}" if query else f"for {self.user.name} yet"
            self.query_one("#event-detail", Static).update(f"No events {what}.")

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(int(event.row_key.value or 0))

    def _show(self, index: int) -> None:
        if index >= len(self.events):
            return
        event = self.events[index]
        because = f" because {event.reason}" if event.reason != event.error else ""
        lines = [
            f"{event.at:%Y-%m-%d %H:%M:%S} UTC, run {event.run_id}: {event.verb} {event.outcome}"
            f" ({event.rule}){because}",
            f"PSA record: {event.key or '-'}   mailbox item: {event.item_id or '-'}",
        ]
        if event.error:
            lines.append(f"Error: {event.error}")
        self.query_one("#event-detail", Static).update("\n".join(lines))

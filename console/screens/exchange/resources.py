"""The Resources tab: which PSA resources sync, with which mailbox, and how their last run went."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from console.forms import Draft
from console.screens.dialogs import ConfirmScreen
from console.screens.exchange.mailbox_dialog import MailboxScreen
from console.tables import MAX_ROWS, capped_note, keep_long_lived
from console.widgets.filter import FilterInput
from console.widgets.table import PlainTable
from engine.humanize import count
from engine.profile import Profile
from engine.psa.model import Resource
from engine.state import UserState

COLUMNS = ("Sel", "Enabled", "Name", "Mailbox", "Last sync", "Status", "PSA")


class ResourcesPane(Vertical):
    """A filterable table of resources; space selects, e/d enable or disable, m edits."""

    BINDINGS: ClassVar = [
        Binding("space", "toggle", "Select", id="resources_select"),
        Binding("e", "enable", "Enable", id="resources_enable"),
        Binding("d", "disable", "Disable", id="resources_disable"),
        Binding("m", "mailbox", "Mailbox", id="resources_mailbox"),
    ]

    class Edited(Message):
        """The draft changed here."""

    def __init__(self, draft: Draft, profile: Profile) -> None:
        super().__init__(id="resources-pane")
        self.draft = draft
        self.profile = profile
        self.resources: list[Resource] = profile.resources()
        self.by_id = {resource.id: resource for resource in self.resources}
        self.states: dict[int, UserState] = (
            profile.state.users() if profile.paths.state_db.exists() else {}
        )
        self.selected: set[int] = set()

    def compose(self) -> ComposeResult:
        yield FilterInput(placeholder="Filter by name or mailbox  (/)", id="resources-filter")
        table = PlainTable(id="resources-table", cursor_type="row")
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="resources-note", markup=False)

    def on_mount(self) -> None:
        keep_long_lived()
        self.fill()

    def mailbox(self, resource: Resource) -> tuple[str, bool]:
        """The mailbox address, and whether it is the PSA e-mail by default."""
        chosen = self._setting(resource).get("mailbox")
        return (chosen, False) if chosen else (resource.email.lower(), True)

    def enabled(self, resource: Resource) -> bool:
        return bool(self._setting(resource).get("enabled"))

    def _setting(self, resource: Resource) -> dict:
        """The draft's Resources-tab entry of one resource (one dict lookup: tables are long)."""
        section = self.draft.document.get("exchange", {}).get("resources", {})
        return section.get(str(resource.id)) or section.get(resource.id) or {}

    def fill(self) -> None:
        table = self.query_one("#resources-table", DataTable)
        needle = self.query_one("#resources-filter", Input).value.strip().lower()
        row = table.cursor_row
        table.clear()
        rows = [(resource, *self.mailbox(resource)) for resource in self.resources]
        matches = [
            (resource, address, default)
            for resource, address, default in rows
            if not needle or needle in resource.name.lower() or needle in address
        ]
        for resource, address, default in matches[:MAX_ROWS]:
            state = self.states.get(resource.id)
            table.add_row(
                "[x]" if resource.id in self.selected else "[ ]",
                "yes" if self.enabled(resource) else "no",
                resource.name,
                address + (" *" if default else ""),
                f"{state.last_attempt_at:%Y-%m-%d %H:%M}"
                if state and state.last_attempt_at
                else "never",
                (state.last_outcome or "-") if state else "-",
                "active" if resource.active else "inactive",
                key=str(resource.id),
            )
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))
        enabled = sum(1 for resource in self.resources if self.enabled(resource))
        self.query_one("#resources-note", Static).update(
            f"{enabled} of {len(self.resources)} enabled, {len(self.selected)} selected."
            " * = the PSA e-mail. space select, e/d enable/disable, m mailbox"
            + capped_note(min(len(matches), MAX_ROWS), len(matches), needle)
        )

    def _current(self) -> Resource | None:
        table = self.query_one("#resources-table", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return self.by_id[int(key.value or 0)]

    def _targets(self) -> list[Resource]:
        chosen = [r for r in self.resources if r.id in self.selected]
        current = self._current()
        return chosen or ([current] if current else [])

    @on(Input.Changed, "#resources-filter")
    def _filtered(self) -> None:
        self.fill()

    @on(Input.Submitted, "#resources-filter")
    def _filter_done(self) -> None:
        self.query_one("#resources-table").focus()

    def action_toggle(self) -> None:
        current = self._current()
        if current is not None:
            self.selected ^= {current.id}
            self.fill()
            self.query_one("#resources-table", DataTable).action_cursor_down()

    def _set_enabled(self, resources: list[Resource], enabled: bool) -> None:
        for resource in resources:
            self.draft.set(f"exchange.resources.{resource.id}.enabled", enabled)
        self.selected.clear()
        self.fill()
        self.post_message(self.Edited())

    def action_enable(self) -> None:
        self._set_enabled(self._targets(), True)

    def action_disable(self) -> None:
        targets = self._targets()
        if not targets:
            return
        names = ", ".join(r.name for r in targets[:3]) + (" ..." if len(targets) > 3 else "")

        def decided(yes: bool | None) -> None:
            if yes:
                self._set_enabled(targets, False)

        question = (
            f"Disable the MS Exchange extension for {count(len(targets), 'user')}: {names}? Their"
            " mailboxes stop syncing when you save."
        )
        self.app.push_screen(ConfirmScreen(question, "Disable"), decided)

    def action_mailbox(self) -> None:
        current = self._current()
        if current is None:
            return
        key = f"exchange.resources.{current.id}.mailbox"

        def done(address: str | None) -> None:
            if address is not None:
                self.draft.set(key, address or None)
                self.fill()
                self.post_message(self.Edited())

        self.app.push_screen(
            MailboxScreen(self.draft, key, current, self.mailbox(current)[0]), done
        )

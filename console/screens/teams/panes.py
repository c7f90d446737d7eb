"""The three tabs of the MS Teams page: a table each, with what the highlighted row says
in full below it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from console.screens.dialogs import ConfirmScreen
from console.screens.teams.channel_dialog import ChannelDialog
from console.screens.teams.editing import problem_line, save_teams
from console.screens.teams.overview import (
    EVENT_NAMES,
    channel_names,
    channel_rows,
    conditions_text,
    received_lines,
)
from console.screens.teams.rule_dialog import RuleDialog
from console.widgets.table import PlainTable
from engine.errors import SettingsError, UserError
from engine.humanize import count
from engine.profile import Profile
from engine.teams.state import TeamsState
from engine.teams.trial import send_test_card


class TablePane(Vertical):
    """A table of rows keyed by id, and a note on the highlighted row."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    NAME: ClassVar[str] = ""

    class Changed(Message):
        """The settings changed here: every tab shows them again."""

    def __init__(self, profile: Profile) -> None:
        super().__init__(id=f"{self.NAME}-pane")
        self.profile = profile

    def compose(self) -> ComposeResult:
        table = PlainTable(id=f"{self.NAME}-table", cursor_type="row")
        table.add_columns(*self.COLUMNS)
        yield table
        with VerticalScroll(classes="note-box"):
            yield Static("", id=f"{self.NAME}-note", markup=False)

    def on_mount(self) -> None:
        self.fill()

    @property
    def table(self) -> DataTable[object]:
        return self.query_one(f"#{self.NAME}-table", DataTable)

    def rows(self) -> list[tuple[int, tuple[str, ...]]]:
        return []

    def note(self, key: int | None) -> str:
        return ""

    def fill(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear()
        for key, cells in self.rows():
            table.add_row(*cells, key=str(key))
        table.move_cursor(row=min(row, max(table.row_count - 1, 0)))
        self._show_note()

    def current(self) -> int | None:
        table = self.table
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(key.value or 0)

    @on(DataTable.RowHighlighted)
    def _show_note(self) -> None:
        self.query_one(f"#{self.NAME}-note", Static).update(self.note(self.current()))

    def changed(self, saved: bool | None = True) -> None:
        if saved:
            self.post_message(self.Changed())

    def save(self, change: Callable[[dict[str, Any]], None], origin: str) -> None:
        try:
            save_teams(self.profile, change, origin)
        except (SettingsError, UserError) as error:
            self.app.notify(problem_line(error), severity="error")
            return
        self.changed()


class EditablePane(TablePane):
    """Entries of one section of the MS Teams settings (``NAME``): added and edited in
    ``DIALOG``, activated or inactivated in place."""

    DIALOG: ClassVar[type[ChannelDialog | RuleDialog]]

    def action_add(self) -> None:
        self.app.push_screen(self.DIALOG(self.profile, None), self.changed)

    def action_edit(self) -> None:
        key = self.current()
        if key is not None:
            self.app.push_screen(self.DIALOG(self.profile, key), self.changed)

    def action_toggle(self) -> None:
        key = self.current()
        if key is None:
            return
        section = self.NAME
        active = not getattr(self.profile.settings.teams, section)[key].active

        def change(document: dict) -> None:
            document["teams"][section][str(key)]["active"] = active

        self.save(change, f"teams.{section}.{key}.active")


class ChannelsPane(EditablePane):
    """The channels: add, edit, activate or inactivate, delete."""

    NAME = "channels"
    DIALOG = ChannelDialog
    COLUMNS = ("Name", "Active", "Rules", "24 h", "Webhook", "Description")
    BINDINGS: ClassVar = [
        Binding("a", "add", "Add", id="channels_add"),
        Binding("e,enter", "edit", "Edit", id="channels_edit", show=False),
        Binding("i", "toggle", "On/off", id="channels_toggle"),
        Binding("d", "delete", "Delete", id="channels_delete"),
        Binding("t", "test", "Test", id="channels_test"),
    ]

    def rows(self) -> list[tuple[int, tuple[str, ...]]]:
        self._rows = {row.id: row for row in channel_rows(self.profile)}
        return [
            (
                row.id,
                (
                    row.name,
                    ("yes" if row.active else "no") + (" !" if row.inactivated else ""),
                    str(row.active_rules),
                    str(row.alerts_24h),
                    row.webhook,
                    row.description,
                ),
            )
            for row in self._rows.values()
        ]

    def note(self, key: int | None) -> str:
        if key is None:
            return "No channel yet: a adds one (its Workflows webhook URL is kept as a secret)."
        row = self._rows[key]
        lines = [f"{row.name}: {row.description}" if row.description else row.name]
        if row.inactivated:
            lines.append(f"! {row.inactivated}; e edits its webhook, i activates it again.")
        channel = self.profile.settings.teams.channels[key]
        lines += received_lines(self.profile, key, channel)
        return "\n".join(lines)

    def action_test(self) -> None:
        key = self.current()
        if key is not None:
            self.app.notify(f"Posting a test card to {self._rows[key].name}...")
            self._test(key)

    @work(thread=True, exclusive=True, group="teams-test", exit_on_error=False)
    def _test(self, channel_id: int) -> None:
        """Posts through the outbox (its own state connection: this is another thread)."""
        paths = self.profile.paths
        channel = self.profile.settings.teams.channels[channel_id]
        state = TeamsState(paths.teams_db)
        try:
            result = send_test_card(paths, state, channel_id, channel)
        except UserError as error:
            self.app.call_from_thread(self.app.notify, str(error), severity="error")
            return
        finally:
            state.close()
        if result.posted:
            said, severity = f"{channel.name}: the test card was posted.", "information"
        else:
            said, severity = f"{channel.name}: not posted: {result.reason}", "error"
        self.app.call_from_thread(self.app.notify, said, severity=severity)
        self.app.call_from_thread(self._delivered)

    def _delivered(self) -> None:
        """Delivery may have inactivated the channel (a 404 or 410): read the settings again."""
        self.profile.reload()
        self.changed()

    def action_delete(self) -> None:
        key = self.current()
        if key is None:
            return
        teams = self.profile.settings.teams
        name = teams.channels[key].name or f"channel {key}"
        using = teams.rules_using(key)
        question = f"Delete the channel {name}?"
        if using:
            rules = ", ".join(
                f"{rule_id} ({EVENT_NAMES[teams.rules[rule_id].event]})" for rule_id in using
            )
            question += (
                f" {count(len(using), 'rule')} post to it: {rules}. They stop posting there"
                " (a rule left without a channel is inactivated)."
            )

        def change(document: dict) -> None:
            section = document["teams"]
            section["channels"].pop(str(key), None)
            for rule_id in using:
                rule = section["rules"][str(rule_id)]
                rule["channels"] = [c for c in rule.get("channels", []) if c != key]
                if not rule["channels"]:
                    rule["active"] = False

        def decided(yes: bool | None) -> None:
            if yes:
                self.save(change, f"teams.channels.{key}")

        self.app.push_screen(ConfirmScreen(question, "Delete"), decided)


class RulesPane(EditablePane):
    """The notification rules: add, edit, activate or inactivate, delete."""

    NAME = "rules"
    DIALOG = RuleDialog
    COLUMNS = ("Event", "Active", "Channels", "Conditions")
    BINDINGS: ClassVar = [
        Binding("a", "add", "Add", id="rules_add"),
        Binding("e,enter", "edit", "Edit", id="rules_edit"),
        Binding("i", "toggle", "On/off", id="rules_toggle"),
        Binding("d", "delete", "Delete", id="rules_delete"),
    ]

    def rows(self) -> list[tuple[int, tuple[str, ...]]]:
        teams = self.profile.settings.teams
        self._companies = {c.id: c.name for c in self.profile.psa.companies()}
        return [
            (
                rule_id,
                (
                    EVENT_NAMES[rule.event],
                    "yes" if rule.active else "no",
                    channel_names(teams, rule.channels) or "none",
                    conditions_text(rule, self._companies),
                ),
            )
            for rule_id, rule in sorted(teams.rules.items())
        ]

    def note(self, key: int | None) -> str:
        if key is None:
            return "No rule yet: a adds one (an event, optional conditions, its channels)."
        teams = self.profile.settings.teams
        rule = teams.rules[key]
        return (
            f"Rule {key}: {EVENT_NAMES[rule.event]}, when {conditions_text(rule, self._companies)},"
            f" posts to {channel_names(teams, rule.channels) or 'no channel'}"
            + ("." if rule.active else " (inactive).")
        )

    def action_delete(self) -> None:
        key = self.current()
        if key is None:
            return
        event = EVENT_NAMES[self.profile.settings.teams.rules[key].event]

        def change(document: dict) -> None:
            document["teams"]["rules"].pop(str(key), None)

        def decided(yes: bool | None) -> None:
            if yes:
                self.save(change, f"teams.rules.{key}")

        self.app.push_screen(ConfirmScreen(f"Delete rule {key} ({event})?", "Delete"), decided)


class ErrorLogPane(TablePane):
    """Every failed post, newest first."""

    NAME = "errors"
    COLUMNS = ("Time", "Channel", "Status", "Reason")

    def rows(self) -> list[tuple[int, tuple[str, ...]]]:
        if not self.profile.paths.teams_db.exists():
            self._entries = []
            return []
        channels = self.profile.settings.teams.channels
        self._entries = self.profile.teams.errors()
        return [
            (
                index,
                (
                    f"{entry.at:%Y-%m-%d %H:%M:%S}",
                    channels[entry.channel_id].name
                    if entry.channel_id in channels
                    else f"channel {entry.channel_id}",
                    str(entry.status) if entry.status is not None else "no answer",
                    entry.reason,
                ),
            )
            for index, entry in enumerate(self._entries)
        ]

    def note(self, key: int | None) -> str:
        if key is None:
            return "No failed post."
        return self._entries[key].reason

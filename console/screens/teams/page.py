"""Admin > Extensions & Integrations > Microsoft Extensions > MS Teams: the channels
notifications are posted to, the rules that pick them, and the log of failed posts."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import TabbedContent, TabPane

from console.navigation import Navigator
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.base import PageScreen
from console.screens.teams.panes import ChannelsPane, ErrorLogPane, RulesPane, TablePane
from engine.humanize import count


class TeamsScreen(PageScreen):
    CRUMB = "MS Teams"
    PARENT = MicrosoftExtensionsScreen
    SUMMARY = "PSA tickets, service calls and sync alerts posted to Teams channels"
    CSS_PATH = "teams.tcss"
    HELP = (
        "Notifications posted to Microsoft Teams channels through Power Automate Workflows"
        " webhooks, as Adaptive Cards.\n\n"
        "**Channels**: each channel's webhook URL is kept in a secret file, shown only as"
        " its host; *Rules* counts the active rules posting to it, *24 h* the cards posted"
        " in the last 24 hours. A channel whose webhook answered 404 (channel not found) or"
        " 410 (workflow removed) was inactivated at once: it shows `no !` and why. `a` adds,"
        " `e` or Enter edits (paste a new URL), `i` activates or inactivates, `d` deletes"
        " (naming the rules that post to it), `t` posts a test card through the outbox and"
        " says what came of it.\n\n"
        "**Rules**: an event (PSA tickets, service calls, a user's sync error, a held mass"
        " deletion, AD sync conflicts and failures), optional conditions on queue, priority"
        " and organization (several values with commas; any of them matches), one or more"
        " channels. A problem is posted once a day per user and kind, as the e-mail is (R18)."
        " `a` adds, `e` edits, `i` activates or inactivates, `d` deletes.\n\n"
        "**Error Log**: every failed post, newest first: time, channel, HTTP status, reason."
    )

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        channels = console.profile.settings.teams.channels
        active = sum(1 for channel in channels.values() if channel.active)
        return f"{active} of {count(len(channels), 'channel')} active" if channels else "off"

    def compose_page(self) -> ComposeResult:
        profile = self.msext.profile
        with TabbedContent(id="teams-tabs"):
            with TabPane("Channels", id="tab-channels"):
                yield ChannelsPane(profile)
            with TabPane("Rules", id="tab-rules"):
                yield RulesPane(profile)
            with TabPane("Error Log", id="tab-errors"):
                yield ErrorLogPane(profile)

    def on_mount(self) -> None:
        self.query_one("#channels-table").focus()

    @on(TablePane.Changed)
    def _changed(self) -> None:
        for pane in self.query(TablePane):
            pane.fill()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self._changed()

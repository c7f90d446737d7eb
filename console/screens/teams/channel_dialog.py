"""Adding or editing one Teams channel: name, description, its webhook URL (kept in a secret
file, never in the settings), active. Checked by the settings model before it is saved."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from console.screens.teams.editing import problem_line, save_teams
from engine.errors import SettingsError, UserError
from engine.net.origins import is_encrypted_or_local
from engine.profile import Profile
from engine.settings.secrets import write_secret_file
from engine.settings.teams import TeamsChannel


def webhook_secret_name(channel_id: int) -> str:
    return f"teams-channel-{channel_id}"


class ChannelDialog(ModalScreen[bool]):
    """Returns whether the channel was saved."""

    CSS_PATH = "teams.tcss"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="channel_cancel")]

    def __init__(self, profile: Profile, channel_id: int | None) -> None:
        super().__init__()
        self.profile = profile
        channels = profile.settings.teams.channels
        self.channel_id = channel_id if channel_id is not None else max(channels, default=0) + 1
        self.channel = channels.get(self.channel_id) or TeamsChannel(active=False)
        self.new = channel_id is None

    def compose(self) -> ComposeResult:
        channel = self.channel
        with Vertical(classes="dialog", id="channel-dialog"):
            heading = "New channel" if self.new else f"Channel {channel.name}"
            yield Static(heading, classes="question", markup=False)
            yield Label("Name")
            yield Input(channel.name, id="channel-name")
            yield Label("Description")
            yield Input(channel.description, id="channel-description")
            yield Label("Webhook URL (from the channel's Workflows webhook)")
            yield Input(
                password=True,
                placeholder="paste the URL" if self.new else "empty keeps the current URL",
                id="channel-webhook",
            )
            yield Checkbox("Active", channel.active, compact=True, id="channel-active")
            yield Static("", id="channel-problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", compact=True, id="save")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#channel-name").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        url = self.query_one("#channel-webhook", Input).value.strip()
        reference = self.channel.webhook
        if url:
            if not url.startswith(("https://", "http://")) or not is_encrypted_or_local(url):
                self._problem("the webhook URL must be an https:// URL")
                return
            name = webhook_secret_name(self.channel_id)
            try:
                write_secret_file(self.profile.paths, name, url)
            except UserError as error:
                self._problem(str(error))
                return
            reference = f"file:{name}"
        values: dict[str, Any] = {
            "name": self.query_one("#channel-name", Input).value.strip(),
            "description": self.query_one("#channel-description", Input).value.strip(),
            "active": self.query_one("#channel-active", Checkbox).value,
        }
        if reference:
            values["webhook"] = reference

        def change(document: dict[str, Any]) -> None:
            channels = document.setdefault("teams", {}).setdefault("channels", {})
            channels[str(self.channel_id)] = values

        try:
            save_teams(self.profile, change, f"teams.channels.{self.channel_id}")
        except (SettingsError, UserError) as error:
            self._problem(problem_line(error))
            return
        self.dismiss(True)

    def _problem(self, text: str) -> None:
        self.query_one("#channel-problem", Static).update(f"! {text}")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

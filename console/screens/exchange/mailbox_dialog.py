"""Editing one resource's mailbox address, checked by the settings model before it is taken."""

from __future__ import annotations

import copy
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from console.forms import Draft
from engine.errors import SettingsError
from engine.psa.model import Resource
from engine.settings.store import validate


class MailboxScreen(ModalScreen[str | None]):
    """Returns the new address ("" for the PSA e-mail), or ``None`` when cancelled."""

    CSS_PATH = "../dialogs.tcss"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="mailbox_cancel")]

    def __init__(self, draft: Draft, key: str, resource: Resource, current: str) -> None:
        super().__init__()
        self.draft = draft
        self.key = key
        self.resource = resource
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                f"Mailbox of {self.resource.name}. Leave it empty to use the PSA e-mail"
                f" ({self.resource.email}).",
                classes="question",
                markup=False,
            )
            yield Input(value=self.current, id="mailbox-input")
            yield Static("", id="mailbox-problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", compact=True, id="ok")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#mailbox-input").focus()

    def problem(self, address: str) -> str | None:
        """The settings model's message for this address in this draft, if any."""
        document = copy.deepcopy(self.draft.document)
        node = document
        parts = self.key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if address:
            node[parts[-1]] = address
        else:
            node.pop(parts[-1], None)
        try:
            validate(document, origin=self.key, people=self.draft.store.people_for(document))
        except SettingsError as error:
            return next(
                (message for key, message in error.problems.items() if key.startswith(self.key)),
                None,
            )
        return None

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        address = self.query_one("#mailbox-input", Input).value.strip()
        if address.lower() == self.resource.email.lower():
            address = ""
        found = self.problem(address)
        if found:
            self.query_one("#mailbox-problem", Static).update(f"! {found}")
            return
        self.dismiss(address)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

"""Small modal questions: confirm an account-changing action, or what to do with unsaved work."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no to an action that changes accounts (STYLE rule 7); Esc means no."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [Binding("escape", "no", "Cancel", id="confirm_cancel")]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, variant="warning", compact=True, id="yes")
                yield Button("Cancel", compact=True, id="no")

    def on_mount(self) -> None:
        self.query_one("#no").focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


class LeaveScreen(ModalScreen[str]):
    """Unsaved changes on the way out: save, discard, or stay."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [Binding("escape", "stay", "Stay", id="leave_stay")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("This page has unsaved changes.", classes="question", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", compact=True, id="save")
                yield Button("Discard", variant="warning", compact=True, id="discard")
                yield Button("Stay", compact=True, id="stay")

    def on_mount(self) -> None:
        self.query_one("#stay").focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")

    def action_stay(self) -> None:
        self.dismiss("stay")

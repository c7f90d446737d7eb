"""``?`` on any page: what the page is for, and every key it answers to."""

from __future__ import annotations

from typing import ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, Static

from console.widgets.table import PlainTable

GLOBAL_KEYS = (
    ("ctrl+p", "Command palette: jump to any page, user or action by name"),
    ("tab / shift+tab", "Move between fields"),
    ("ctrl+pagedown / ctrl+pageup", "Next / previous tab, also from a text field"),
    ("home / end", "First / last row of a table"),
    ("q", "Quit (outside text fields)"),
)


class Explained(Protocol):
    """A screen that has help: a page of the admin path, or the setup wizard."""

    HELP: ClassVar[str]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]: ...

    def trail(self) -> tuple[str, ...]: ...


class HelpScreen(ModalScreen[None]):
    """The help of one page; Esc, ``?`` or ``q`` closes it."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar = [
        Binding("escape,question_mark,q,f1", "close", "Close", id="help_close"),
    ]

    def __init__(self, page: Explained) -> None:
        super().__init__()
        self.page = page

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(" > ".join(self.page.trail()), id="help-title", markup=False)
            if self.page.HELP:
                yield Markdown(self.page.HELP, id="help-text")
            table = PlainTable(id="help-keys", cursor_type="none", show_cursor=False)
            table.add_columns("Key", "Does")
            seen: set[str] = set()
            # The page's own keys first, then the app's, then those of the focused widget.
            ranked = sorted(
                self.page.active_bindings.values(),
                key=lambda active: (
                    0 if active.node is self.page else 1 if active.node is self.app else 2
                ),
            )
            for active in ranked:
                binding = active.binding
                if binding.description and binding.action not in seen:
                    seen.add(binding.action)
                    display = binding.key_display or self.app.get_key_display(binding)
                    table.add_row(display, binding.description)
            for key, does in GLOBAL_KEYS:
                table.add_row(key, does)
            yield table
            yield Static("Esc closes this help.", id="help-hint")

    def action_close(self) -> None:
        self.dismiss()

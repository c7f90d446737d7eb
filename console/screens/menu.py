"""Menu pages of the admin path: the pages one level down, Enter opens the one under the
cursor. A page names its parent (``PARENT``); the menu lists them, so no menu imports the
pages below it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.screens.base import PageScreen


class MenuScreen(PageScreen):
    """A page that lists where one can go next."""

    CSS_PATH = "menu.tcss"
    INTRO: ClassVar[str] = ""
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Open", id="open"),
        Binding("j", "cursor_down", "Down", show=False, id="menu_down"),
        Binding("k", "cursor_up", "Up", show=False, id="menu_up"),
    ]

    def entries(self) -> list[type[PageScreen]]:
        """The pages whose parent this is, in the console's order."""
        return [
            page
            for page in self.msext.pages()
            if issubclass(page, PageScreen) and page.PARENT is type(self)
        ]

    def compose_page(self) -> ComposeResult:
        if self.INTRO:
            yield Static(self.INTRO, classes="intro", markup=False)
        yield OptionList(*self._options(), id="menu")

    def _options(self) -> list[Option]:
        self._entries = self.entries()
        options = []
        for index, page in enumerate(self._entries):
            prompt = Text.assemble((page.CRUMB, "bold"))
            state = page.menu_state(self.msext)
            if state:
                prompt.append(f"  [{state}]")
            prompt.append(f"\n{page.SUMMARY}", style="dim")
            options.append(Option(prompt, id=str(index)))
        return options

    def refresh_entries(self) -> None:
        """Re-read the entries' states (after a save on a page below)."""
        menu = self.query_one("#menu", OptionList)
        highlighted = menu.highlighted
        menu.clear_options()
        menu.add_options(self._options())
        menu.highlighted = highlighted

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.refresh_entries()

    @on(OptionList.OptionSelected, "#menu")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.app.push_screen(self._entries[int(event.option.id or 0)]())

    def action_open(self) -> None:
        self.query_one("#menu", OptionList).action_select()

    def action_cursor_down(self) -> None:
        self.query_one("#menu", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#menu", OptionList).action_cursor_up()

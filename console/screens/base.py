"""The page every admin screen builds on: breadcrumb line, body, footer, Esc, help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from console.navigation import Navigator, navigator
from console.widgets.breadcrumb import Breadcrumb


class PageScreen(Screen[None]):
    """One page of the admin path.

    ``CRUMB`` names the page in the breadcrumb; ``PARENT`` is the page one level up, so
    that the trail and a jump from the command palette rebuild the same path.
    """

    CRUMB: ClassVar[str] = ""
    PARENT: ClassVar[type[PageScreen] | None] = None
    HELP: ClassVar[str] = ""
    """What the page is for, shown by ``?`` above its keys."""
    SUMMARY: ClassVar[str] = ""
    """The line under the page's name in its parent's menu."""
    PALETTE: ClassVar[bool] = True
    """Whether the command palette offers a jump to this page."""

    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="back"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("f1", "help", "Help", show=False, id="help_f1"),
    ]

    @property
    def msext(self) -> Navigator:
        return navigator(self.app)

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        """What the parent's menu shows in brackets beside the page (e.g. its state)."""
        return ""

    @property
    def crumb(self) -> str:
        return self.CRUMB

    @classmethod
    def ancestors(cls) -> list[type[PageScreen]]:
        """The pages above this one, the root first."""
        chain: list[type[PageScreen]] = []
        parent = cls.PARENT
        while parent is not None:
            chain.insert(0, parent)
            parent = parent.PARENT
        return chain

    def trail(self) -> tuple[str, ...]:
        return (*(page.CRUMB for page in self.ancestors()), self.crumb)

    def compose(self) -> ComposeResult:
        yield Breadcrumb(self.trail())
        yield from self.compose_page()
        yield Footer()

    def compose_page(self) -> ComposeResult:
        """The page's own widgets, between the breadcrumb and the footer."""
        yield from ()

    def request_leave(self, proceed: Callable[[], object]) -> None:
        """Leave the page by calling ``proceed``; pages with unsaved changes ask first."""
        proceed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The root page has no level above it: no Back key in its footer."""
        return not (action == "back" and self.PARENT is None)

    def action_back(self) -> None:
        if self.PARENT is not None:
            self.request_leave(self.dismiss)

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

"""The page every admin screen builds on: breadcrumb line, body, footer, Esc, help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, TabbedContent, TabPane, Tabs

from console.navigation import Navigator, navigator
from console.widgets.breadcrumb import Breadcrumb
from console.widgets.filter import FilterInput

TABS = Binding.Group("Tab", compact=True)


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
        # Tabs by fixed keys: [ and ] whenever focus is outside a text field (typed into a
        # field they are text), ctrl+pageup/pagedown everywhere, as in browsers and terminals.
        Binding(
            "left_square_bracket",
            "switch_tab(-1)",
            "Previous tab",
            key_display="[",
            group=TABS,
            id="previous_tab",
        ),
        Binding(
            "right_square_bracket",
            "switch_tab(1)",
            "Next tab",
            key_display="]",
            group=TABS,
            id="next_tab",
        ),
        Binding(
            "ctrl+pageup",
            "switch_tab(-1)",
            "Previous tab",
            show=False,
            priority=True,
            id="previous_tab_anywhere",
        ),
        Binding(
            "ctrl+pagedown",
            "switch_tab(1)",
            "Next tab",
            show=False,
            priority=True,
            id="next_tab_anywhere",
        ),
        Binding("slash", "filter", "Filter", key_display="/", id="filter"),
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
        """Keys a page has no use for stay out of its footer: Back on the root page, tab
        keys without tabs, `/` without a filter."""
        if action == "back":
            return self.PARENT is not None
        if action == "switch_tab":
            return bool(self.query(TabbedContent))
        if action == "filter":
            return bool(self.query(FilterInput))
        return True

    def action_switch_tab(self, step: int) -> None:
        """Show the next (or previous) tab and focus the first thing in it, unless that is
        a text field: there [ and ] would be typed, so the tab bar keeps the focus."""
        tabbed = self.query_one(TabbedContent)
        panes = [pane.id for pane in tabbed.query(TabPane) if pane.id]
        # Focus leaves the old pane first: a field focused there would show its pane again.
        tabbed.query_one(Tabs).focus()
        tabbed.active = panes[(panes.index(tabbed.active) + step) % len(panes)]
        self.call_after_refresh(self._focus_inside, tabbed)

    def _focus_inside(self, tabbed: TabbedContent) -> None:
        pane = tabbed.active_pane
        first = pane and next((widget for widget in pane.query("*") if widget.focusable), None)
        if first is None or isinstance(first, Input):
            tabbed.query_one(Tabs).focus()
        else:
            first.focus()

    def action_filter(self) -> None:
        """Focus the page's filter, showing its tab first; its text stays, selected."""
        field = self.query_one(FilterInput)
        pane = next((node for node in field.ancestors if isinstance(node, TabPane)), None)
        if pane is not None and pane.id:
            self.query_one(TabbedContent).active = pane.id
        field.focus()
        field.select_all()

    def action_back(self) -> None:
        if self.PARENT is not None:
            self.request_leave(self.dismiss)

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

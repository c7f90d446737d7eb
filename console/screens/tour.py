"""The demo's guided tour: a few cards that walk the admin path, each opening its page.

Offered once by ``msext demo``; finishing or skipping it is remembered in the profile
(``console.tour_seen``), and the palette offers it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

from console.navigation import Navigator, navigator
from console.screens.admin import AdminScreen, MicrosoftExtensionsScreen
from console.screens.base import PageScreen
from console.screens.exchange.activity import ActivityScreen
from console.screens.exchange.page import ExchangeScreen
from console.screens.users import UsersScreen


@dataclass(frozen=True)
class Card:
    title: str
    text: str
    page: type[PageScreen]


CARDS: tuple[Card, ...] = (
    Card(
        "Welcome to the msext demo",
        "This profile has an **embedded PSA** with 30 resources and their customers, and a"
        " **loopback Exchange** (EWS and Microsoft Graph emulators) with a mailbox for each."
        " Nothing leaves this machine. The tour opens each page it talks about; Esc ends it.",
        AdminScreen,
    ),
    Card(
        "The admin path you know",
        "Admin > Extensions & Integrations > **Microsoft Extensions** lists the four"
        " modules. Enter opens one, Esc goes one level up, and the breadcrumb on top always"
        " says where you are.",
        MicrosoftExtensionsScreen,
    ),
    Card(
        "MS Exchange: three tabs",
        "*General* says where Exchange is, through which API (EWS, or Graph for Office 365),"
        " and which account or app acts for every user (Test connection checks it);"
        " *Synchronization* what syncs and how often (at least every 10 minutes); *Resources*"
        " who is synced. ctrl+s saves; nothing invalid is ever saved.",
        ExchangeScreen,
    ),
    Card(
        "Users: why one calendar does not sync",
        "Each user's page compares the MS Outlook and the MS Exchange extension and runs the"
        " diagnosis. Try **Ben Brooks** (contacts synced by both modules) and **Chloe Reyes**"
        " (the account may not open her mailbox).",
        UsersScreen,
    ),
    Card(
        "Sync activity",
        "**s** syncs every enabled user now, with a progress bar per user and a log you can"
        " filter. ctrl+p finds any page, user or action by name; ? lists a page's keys.",
        ActivityScreen,
    ),
)


class TourScreen(ModalScreen[None]):
    """One card, over the page it is about; the app re-opens the next card over its page."""

    CSS_PATH = "dialogs.tcss"
    BINDINGS: ClassVar = [
        Binding("escape", "end", "End tour", id="tour_end"),
        Binding("right", "next", "Next", id="tour_next"),
        Binding("left", "back", "Back", id="tour_back"),
    ]

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    @property
    def msext(self) -> Navigator:
        return navigator(self.app)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tour"):
            yield Static(id="tour-title", classes="question", markup=False)
            yield Markdown(id="tour-text")
            with Horizontal(classes="buttons"):
                yield Button("Next", variant="primary", compact=True, id="tour-next")
                yield Button("End tour", compact=True, id="tour-end")

    def on_mount(self) -> None:
        card = CARDS[self.index]
        self.query_one("#tour-title", Static).update(f"{self.index + 1}/{len(CARDS)}  {card.title}")
        self.query_one("#tour-text", Markdown).update(card.text)
        last = self.index == len(CARDS) - 1
        self.query_one("#tour-next", Button).label = "Finish" if last else "Next"
        self.query_one("#tour-next").focus()

    @on(Button.Pressed, "#tour-next")
    def action_next(self) -> None:
        if self.index == len(CARDS) - 1:
            self.action_end()
        else:
            self.msext.tour(self.index + 1)

    def action_back(self) -> None:
        if self.index > 0:
            self.msext.tour(self.index - 1)

    @on(Button.Pressed, "#tour-end")
    def action_end(self) -> None:
        self.msext.end_tour()
        self.dismiss()

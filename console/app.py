"""The msext console: the admin path of the PSA's Microsoft extensions, keyboard first."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel

from console.navigation import PaletteAction
from console.palette import NavigationCommands
from console.screens.admin import (
    AdminScreen,
    ExtensionsScreen,
    MicrosoftExtensionsScreen,
)
from console.screens.adsync.organization import OrganizationScreen
from console.screens.adsync.organizations import AdSyncScreen
from console.screens.base import PageScreen
from console.screens.exchange.activity import ActivityScreen
from console.screens.exchange.page import ExchangeScreen
from console.screens.menu import MenuScreen
from console.screens.outlook.page import OutlookScreen
from console.screens.setup import SetupScreen
from console.screens.teams.page import TeamsScreen
from console.screens.tour import CARDS, TourScreen
from console.screens.user import UserScreen
from console.screens.users import UsersScreen
from console.sync_session import SyncSession
from engine.errors import UserError
from engine.exchange.sync import select_users
from engine.profile import Profile
from engine.psa.model import Resource


class MsextApp(App[None]):
    """One profile's console. Pages sit on the screen stack in admin-path order."""

    TITLE = "msext"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = App.COMMANDS | {NavigationCommands}
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit", id="quit"),
    ]
    MODES: ClassVar = {"admin": AdminScreen, "setup": SetupScreen}
    DEFAULT_MODE = "admin"

    def __init__(self, profile: Profile, offer_tour: bool = False, setup: bool = False) -> None:
        # A profile with no settings file starts in the setup wizard (so does `msext setup`).
        self.DEFAULT_MODE = (  # type: ignore[misc]
            "setup" if setup or not profile.store.exists() else "admin"
        )
        super().__init__()
        self.profile = profile
        self.sync_session = SyncSession(self, profile)
        self.failure: BaseException | None = None
        self._offer_tour = offer_tour
        self._tour_card: int | None = None
        # Under NO_COLOR, focus and cursors are shown by reverse video (see app.tcss).
        self.set_class(self.no_color, "-no-color")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification is plain text, whatever the caller says: messages carry PSA
        and mailbox text, and a name like "Brooks [/b]" read as markup stops the drawing."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _fatal_error(self) -> None:
        """Never a traceback on screen: keep the failure for the command line to report in
        one line (and in full in the log file), then close."""
        self.failure = self._exception
        self.bell()
        self._close_messages_no_wait()

    async def action_quit(self) -> None:
        """`q` leaves the way Esc does: a page with unsaved changes, or the setup wizard,
        asks first (their ``request_leave``); everything else quits at once."""
        request_leave = getattr(self.screen, "request_leave", None)
        if request_leave is None:
            self.exit()
        else:
            request_leave(self.exit)

    def on_mount(self) -> None:
        keymap = self.profile.settings.console.keymap
        if keymap:
            self.set_keymap(keymap)
        if self._offer_tour and not self.profile.settings.console.tour_seen:
            self.call_after_refresh(self.tour)

    def tour(self, card: int = 0) -> None:
        """Show one card of the demo's tour over the page it is about."""
        self._tour_card = card
        self.go(CARDS[card].page)

    def end_tour(self) -> None:
        """The tour is over (finished or ended): remembered, so it is not offered again."""
        self._tour_card = None
        self.profile.store.set_value("console.tour_seen", "true")
        self.profile.reload()

    def pages(self) -> list[type[PageScreen]]:
        """Every page of the admin path, in the order menus list them."""
        return [
            AdminScreen,
            ExtensionsScreen,
            MicrosoftExtensionsScreen,
            AdSyncScreen,
            OutlookScreen,
            ExchangeScreen,
            TeamsScreen,
            UsersScreen,
            ActivityScreen,
        ]

    def palette_actions(self) -> list[PaletteAction]:
        """Actions the palette offers besides pages and users."""
        return [
            ("Sync now: all enabled users", self.sync_all_now, "Start a run now"),
            ("Setup wizard: MS Exchange extension", self.open_setup, "Step by step, saved last"),
            ("Guided tour of the admin path", self.tour, "Five short cards, each on its page"),
        ]

    def open_setup(self) -> None:
        def done(saved: bool | None) -> None:
            if saved and isinstance(self.screen, MenuScreen):
                self.screen.refresh_entries()

        self.go(AdminScreen)
        self.call_after_refresh(lambda: self.push_screen(SetupScreen(), done))

    def sync_all_now(self) -> None:
        """Start a run for every enabled user and show it on the Activity page."""
        try:
            users = select_users(self.profile)
        except UserError as error:
            self.notify(str(error), severity="error")
            return
        if self.sync_session.start(users):
            self.go(ActivityScreen)

    def go(self, page: type[PageScreen] | PageScreen) -> None:
        """Show a page with the whole admin path beneath it, as if opened step by step."""
        current = self.screen
        if isinstance(current, PageScreen):
            current.request_leave(lambda: self._rebuild_path(page))
        else:
            self._rebuild_path(page)

    @work(exclusive=True, group="navigation")
    async def _rebuild_path(self, page: type[PageScreen] | PageScreen) -> None:
        target = page if isinstance(page, PageScreen) else page()
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        for ancestor in type(target).ancestors()[1:]:
            await self.push_screen(ancestor())
        if type(target) is not AdminScreen:
            await self.push_screen(target)
        if self._tour_card is not None:
            # The page is drawn first, so that it shows under the card.
            card = self._tour_card
            self.call_after_refresh(lambda: self.push_screen(TourScreen(card)))

    def user_page(self, resource: Resource) -> UserScreen:
        return UserScreen(resource)

    def adsync_page(self, company_id: int, name: str) -> OrganizationScreen:
        return OrganizationScreen(company_id, name)

    def open_user(self, resource: Resource) -> None:
        self.go(self.user_page(resource))

"""What a screen may ask of the console around it, without importing the app class.

Screens depend on this small interface; the app implements it and wires the screens
together, so no screen imports the app and the console has no import circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from textual.app import App
from textual.screen import Screen

if TYPE_CHECKING:
    from console.sync_session import SyncSession
    from engine.profile import Profile
    from engine.psa.model import Resource

PaletteAction = tuple[str, Callable[[], object], str]
"""What the command palette lists for an action: its text, what it does, a hint."""


class Navigator(Protocol):
    """The console's services and moves, as screens see them."""

    @property
    def profile(self) -> Profile: ...

    @property
    def sync_session(self) -> SyncSession: ...

    def pages(self) -> Sequence[type[Screen]]:
        """Every page of the admin path, in the order menus list them."""
        ...

    def go(self, page: type[Screen] | Screen) -> None:
        """Show a page with the whole admin path beneath it."""
        ...

    def user_page(self, resource: Resource) -> Screen:
        """The page of one user (pushed over the Users list, or reached by :meth:`go`)."""
        ...

    def open_user(self, resource: Resource) -> None: ...

    def adsync_page(self, company_id: int, name: str) -> Screen:
        """The AD sync page of one organization (a PSA company), new ones included."""
        ...

    def palette_actions(self) -> list[PaletteAction]: ...

    def tour(self, card: int = 0) -> None: ...

    def end_tour(self) -> None: ...


def navigator(app: App[object]) -> Navigator:
    """The running console behind a screen."""
    return cast("Navigator", app)

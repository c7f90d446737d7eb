"""A snapshot of every screen at 80x24 (and the main ones wide), from the demo profile."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from console.app import MsextApp
from console.screens.admin import (
    ActiveDirectoryScreen,
    ExtensionsScreen,
    MicrosoftExtensionsScreen,
    TeamsScreen,
)
from console.screens.users import UsersScreen

Setup = Callable[[Pilot], object]


def goto(page: type, *keys: str) -> Callable[[Pilot], object]:
    async def setup(pilot: Pilot) -> None:
        pilot.app.go(page)
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return setup


SCREENS: dict[str, Setup | None] = {
    "admin": None,
    "extensions": goto(ExtensionsScreen),
    "microsoft_extensions": goto(MicrosoftExtensionsScreen),
    "active_directory": goto(ActiveDirectoryScreen),
    "teams": goto(TeamsScreen),
    "users": goto(UsersScreen),
    "users_filtered": goto(UsersScreen, "slash", *"kim"),
    "user_comparison": goto(UsersScreen, "slash", *"brooks", "enter", "enter"),
    "help": goto(UsersScreen, "question_mark"),
}
WIDE = ("microsoft_extensions", "users", "user_comparison")


@pytest.mark.parametrize("name", SCREENS)
def test_screen_80x24(name: str, app: MsextApp, snap_compare) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=SCREENS[name])


@pytest.mark.parametrize("name", WIDE)
def test_screen_wide(name: str, app: MsextApp, snap_compare) -> None:
    assert snap_compare(app, terminal_size=(140, 40), run_before=SCREENS[name])

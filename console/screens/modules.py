"""The four Microsoft extension modules, each with its state for this profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.screens.menu import MenuEntry

if TYPE_CHECKING:
    from console.screens.base import PageScreen


def module_entries(page: PageScreen) -> list[MenuEntry]:
    from console.screens.admin import ActiveDirectoryScreen, TeamsScreen

    return [
        MenuEntry(
            "Active Directory sync",
            "Synchronization of users with Active Directory",
            ActiveDirectoryScreen,
            state="not available in this release",
        ),
        MenuEntry(
            "Microsoft Teams",
            "The Microsoft Teams integration",
            TeamsScreen,
            state="not available in this release",
        ),
    ]

"""The four Microsoft extension modules, each with its state for this profile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.screens.menu import MenuEntry

if TYPE_CHECKING:
    from console.screens.base import PageScreen


def module_entries(page: PageScreen) -> list[MenuEntry]:
    from console.screens.admin import ActiveDirectoryScreen, TeamsScreen
    from console.screens.exchange import ExchangeScreen
    from console.screens.outlook import OutlookScreen

    profile = page.msext.profile
    settings = profile.settings
    resources = profile.resources()
    enabled = [r for r in resources if r.active and settings.resource(r.id).enabled]
    installed = [r for r in resources if settings.user(r.id).outlook.installed]
    exchange_state = (
        f"enabled, {len(enabled)} of {len(resources)} resources"
        if settings.exchange.general.enabled
        else "not enabled"
    )
    return [
        MenuEntry(
            "Active Directory sync",
            "Synchronization of users with Active Directory",
            ActiveDirectoryScreen,
            state="not available in this release",
        ),
        MenuEntry(
            "MS Outlook",
            "The Outlook extension on each workstation: the administrator's limits",
            OutlookScreen,
            state=f"installed for {len(installed)} users",
        ),
        MenuEntry(
            "MS Exchange",
            "Server-side sync of PSA calendars and contacts with Exchange mailboxes",
            ExchangeScreen,
            state=exchange_state,
        ),
        MenuEntry(
            "Microsoft Teams",
            "The Microsoft Teams integration",
            TeamsScreen,
            state="not available in this release",
        ),
    ]

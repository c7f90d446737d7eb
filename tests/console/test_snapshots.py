"""A snapshot of every screen at 80x24 (and the main ones wide), from the demo profile."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time

import pytest
from textual.containers import ScrollableContainer
from textual.pilot import Pilot

from console.app import MsextApp
from console.screens.admin import (
    ExtensionsScreen,
    MicrosoftExtensionsScreen,
)
from console.screens.adsync.organizations import AdSyncScreen
from console.screens.exchange.activity import ActivityScreen
from console.screens.exchange.page import ExchangeScreen
from console.screens.outlook.page import OutlookScreen
from console.screens.teams.page import TeamsScreen
from console.screens.users import UsersScreen
from engine.adsync.demo import ENTRA_COMPANY_ID, LDAPS_COMPANY_ID
from engine.settings.secrets import resolve_secret
from engine.teams.delivery import Delivery
from engine.teams.demo import SERVICE_DESK
from tests.conftest import DEMO_DAY
from tests.console.walk import press_button, settle, type_into

Setup = Callable[[Pilot], object]


def goto(page: type, *keys: str) -> Callable[[Pilot], object]:
    async def setup(pilot: Pilot) -> None:
        pilot.app.go(page)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()  # the page is opened by a worker
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return setup


def exchange_tab(tab: str, *keys: str, focus: str | None = None) -> Callable[[Pilot], object]:
    """The MS Exchange page on one tab, optionally with a field focused and keys pressed."""

    async def setup(pilot: Pilot) -> None:
        await goto(ExchangeScreen)(pilot)
        pilot.app.screen.query_one("#exchange-tabs").active = tab
        await pilot.pause()
        if focus:
            pilot.app.screen.query_one(focus).focus()
        await pilot.press(*keys)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if focus:
            await scroll_from_top(pilot, focus)

    return setup


async def scroll_from_top(pilot: Pilot, selector: str) -> None:
    """Where the page ends up scrolled depends on when an outcome's lines landed; from the
    top, the focused control brought into view is one picture every time (no dialog up)."""
    for form in pilot.app.screen.query(selector):
        for ancestor in form.ancestors:
            if isinstance(ancestor, ScrollableContainer):
                ancestor.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        form.scroll_visible(animate=False, immediate=True)
        await pilot.pause()


def keys(*pressed: str) -> Callable[[Pilot], object]:
    async def setup(pilot: Pilot) -> None:
        await pilot.press(*pressed)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return setup


def tour_card(card: int) -> Callable[[Pilot], object]:
    async def setup(pilot: Pilot) -> None:
        pilot.app.tour(card)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return setup


def graph_notifications() -> Setup:
    """The General tab with Graph chosen, scrolled to the change notification fields."""

    async def setup(pilot: Pilot) -> None:
        mailbox_api = "#f-exchange-general-mailbox_api"
        await exchange_tab("tab-general", "enter", "down", "enter", focus=mailbox_api)(pilot)
        field = "#f-exchange-general-notification_url"
        pilot.app.screen.query_one(field).focus()
        await pilot.pause()
        await scroll_from_top(pilot, "#row-f-exchange-general-notification_key")

    return setup


def user_tab(query: str, tab: str) -> Callable[[Pilot], object]:
    """One user's page on one tab, with what the tab loads in the background loaded."""

    async def setup(pilot: Pilot) -> None:
        app = pilot.app
        app.open_user(app.profile.find_user(query))
        await pilot.pause()
        await app.workers.wait_for_complete()  # the page is opened by a navigation worker
        await pilot.pause()
        app.screen.query_one("#user-tabs").active = tab
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()

    return setup


def adsync_tab(
    company_id: int, tab: str, *keys: str, focus: str | None = None, show: str | None = None
) -> Callable[[Pilot], object]:
    """One organization's AD sync page on one tab, optionally with keys pressed (to
    ``focus``) and the page scrolled to ``show`` (else to ``focus``)."""

    async def setup(pilot: Pilot) -> None:
        app = pilot.app
        names = {company.id: company.name for company in app.profile.psa.companies()}
        app.go(app.adsync_page(company_id, names[company_id]))
        await settle(pilot)
        app.screen.query_one("#adsync-tabs").active = tab
        await pilot.pause()
        if focus:
            app.screen.query_one(focus).focus()
        await pilot.press(*keys)
        await settle(pilot)
        if show or focus:
            await scroll_from_top(pilot, show or focus or "")

    return setup


AVA, CHLOE = "ava.fischer@contoso.example", "chloe.reyes@contoso.example"


def wizard(step: int, *, check: str = AVA, graph: bool = False) -> Setup:
    """The setup wizard on the demo profile (over EWS, or Graph), walked with the keyboard
    to ``step`` (3 to 6): the connection tested, the access to ``check`` checked. The dry
    run (step 7) is left out: its counts follow the day the suite runs."""

    async def setup(pilot: Pilot) -> None:
        app: MsextApp = pilot.app  # type: ignore[assignment]
        if graph:
            app.profile.store.set_value("exchange.general.server_type", "office365")
            app.profile.store.set_value("exchange.general.mailbox_api", "graph")
        app.open_setup()
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        secret = resolve_secret("file:ews-service-account", app.profile.paths)
        await type_into(pilot, "#setup-secret", secret)
        await press_button(pilot, "#setup-test")
        await pilot.press("ctrl+n")
        await settle(pilot)
        await type_into(pilot, "#setup-mailbox", check)
        await pilot.press("enter")
        await settle(pilot)
        for _ in range(step - 3):
            await pilot.press("ctrl+n")
            await settle(pilot)

    return setup


def teams_tab(
    tab: str, *keys: str, gone: bool = False, deliver: bool = False
) -> Callable[[Pilot], object]:
    """The MS Teams page on one tab with its table focused, optionally keys pressed; with
    ``gone``, the Service Desk channel as delivery leaves it after its webhook's 410; with
    ``deliver``, the outbox delivered to the sandbox's channels first."""

    async def setup(pilot: Pilot) -> None:
        profile = pilot.app.profile
        if deliver:
            delivery = Delivery.for_profile(profile.paths, profile.teams)
            while delivery.deliver_due() is not None:
                pass
            delivery.close()
        if gone:
            profile.store.set_value(f"teams.channels.{SERVICE_DESK}.active", "false")
            profile.reload()
            moment = datetime.combine(DEMO_DAY, time(9, 0), UTC).timestamp()
            profile.teams.log_error(SERVICE_DESK, 410, GONE_REASON, moment)
        await goto(TeamsScreen)(pilot)
        pilot.app.screen.query_one("#teams-tabs").active = tab
        await pilot.pause()
        pilot.app.screen.query_one(f"#{tab.removeprefix('tab-')}-table").focus()
        await pilot.press(*keys)
        await settle(pilot)

    return setup


GONE_REASON = "410 Gone: the workflow behind the webhook was removed; channel inactivated"
INTERVAL = "#f-exchange-sync-interval_minutes"

SCREENS: dict[str, Setup | None] = {
    "admin": None,
    "extensions": goto(ExtensionsScreen),
    "microsoft_extensions": goto(MicrosoftExtensionsScreen),
    "adsync": goto(AdSyncScreen),
    "adsync_add": goto(AdSyncScreen, "a", *"harbor"),
    "adsync_setup_entra_id": adsync_tab(ENTRA_COMPANY_ID, "tab-setup"),
    "adsync_setup_ldaps": adsync_tab(LDAPS_COMPANY_ID, "tab-setup", "tab", "tab", "tab"),
    "adsync_test_connection": adsync_tab(
        ENTRA_COMPANY_ID, "tab-setup", "enter", focus="#test-connection", show="#test-result"
    ),
    "adsync_sync_now": adsync_tab(ENTRA_COMPANY_ID, "tab-setup", "s"),
    "adsync_users": adsync_tab(ENTRA_COMPANY_ID, "tab-users", focus="#adsync-users-table"),
    "adsync_resolve": adsync_tab(
        ENTRA_COMPANY_ID, "tab-users", "slash", *"conflict", "enter", "enter"
    ),
    "adsync_history": adsync_tab(ENTRA_COMPANY_ID, "tab-history", focus="#runs-table"),
    "teams": teams_tab("tab-channels"),
    "teams_received": teams_tab("tab-channels", deliver=True),
    "teams_gone": teams_tab("tab-channels", "down", gone=True),
    "teams_channel_edit": teams_tab("tab-channels", "e"),
    "teams_channel_delete": teams_tab("tab-channels", "down", "d"),
    "teams_rules": teams_tab("tab-rules", "down", "down", "down", "down"),
    "teams_rule_edit": teams_tab("tab-rules", "down", "down", "down", "down", "e"),
    "teams_errors": teams_tab("tab-errors", gone=True),
    "users": goto(UsersScreen),
    "users_filtered": goto(UsersScreen, "slash", *"kim"),
    "user_comparison": goto(UsersScreen, "slash", *"brooks", "enter", "enter"),
    "help": goto(UsersScreen, "question_mark"),
    "exchange_general": exchange_tab("tab-general"),
    "exchange_test_connection": exchange_tab("tab-general", "enter", focus="#test-connection"),
    "exchange_general_graph": exchange_tab(
        "tab-general", "enter", "down", "enter", focus="#f-exchange-general-mailbox_api"
    ),
    "exchange_general_notifications": graph_notifications(),
    "exchange_sync": exchange_tab("tab-sync"),
    "exchange_sync_invalid": exchange_tab(
        "tab-sync", "end", "backspace", "backspace", "5", "ctrl+s", focus=INTERVAL
    ),
    "exchange_leave_unsaved": exchange_tab(
        "tab-sync", "end", "backspace", "backspace", "2", "0", "escape", focus=INTERVAL
    ),
    "exchange_resources": exchange_tab("tab-resources"),
    "exchange_resources_disable": exchange_tab(
        "tab-resources", "space", "space", "d", focus="#resources-table"
    ),
    "exchange_mailbox": exchange_tab("tab-resources", "m", focus="#resources-table"),
    "outlook": goto(OutlookScreen),
    "user_diagnosis": user_tab("chloe", "tab-diagnosis"),
    "user_diagnosis_conflict": user_tab("ben", "tab-diagnosis"),
    "user_runs": user_tab("chloe", "tab-runs"),
    "user_items": user_tab("chloe", "tab-items"),
    "activity": goto(ActivityScreen),
    "activity_synced": goto(ActivityScreen),
    "tour": tour_card(2),
    "setup_psa": None,
    "setup_psa_rest": keys("enter", "down", "enter"),
    "setup_exchange": keys("ctrl+n", "ctrl+n"),
    "setup_impersonation": wizard(3, check=CHLOE),
    "setup_application_access": wizard(3, check=CHLOE, graph=True),
    "setup_resources": wizard(4),
    "setup_sync": wizard(5),
    "setup_interval": wizard(6),
}
WIDE = (
    "microsoft_extensions",
    "adsync",
    "adsync_users",
    "teams",
    "users",
    "user_comparison",
    "user_diagnosis",
    "exchange_general",
    "exchange_general_graph",
    "outlook",
    "activity_synced",
)
SYNCED = frozenset({"user_runs", "user_items", "activity_synced", "teams_received"})
ADSYNC = frozenset(
    {"adsync", "adsync_sync_now", "adsync_users", "adsync_resolve", "adsync_history"}
)
"""Screens shown on the demo after its first AD sync runs (tests/console/adsync_synced.py)."""
"""Screens shown on the demo after its first sync (see tests/console/synced.py)."""
FRESH = frozenset({"setup_psa", "setup_psa_rest", "setup_exchange"})
"""Screens shown on a profile with nothing configured (the setup wizard)."""


@pytest.fixture
def shown_app(name: str, request: pytest.FixtureRequest) -> MsextApp:
    fixture = (
        "synced_app"
        if name in SYNCED
        else "adsync_app"
        if name in ADSYNC
        else "fresh_app"
        if name in FRESH
        else "app"
    )
    return request.getfixturevalue(fixture)


@pytest.mark.parametrize("name", SCREENS)
def test_screen_80x24(name: str, shown_app: MsextApp, snap_compare) -> None:
    assert snap_compare(shown_app, terminal_size=(80, 24), run_before=SCREENS[name])


@pytest.mark.parametrize("name", WIDE)
def test_screen_wide(name: str, shown_app: MsextApp, snap_compare) -> None:
    assert snap_compare(shown_app, terminal_size=(140, 40), run_before=SCREENS[name])


@pytest.mark.parametrize("name", ("users", "exchange_sync_invalid"))
def test_screen_no_color(
    name: str, demo_profile, monkeypatch: pytest.MonkeyPatch, snap_compare
) -> None:
    """Under NO_COLOR the cursor and the focused field are still visible (reverse video)."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = MsextApp(demo_profile)
    assert app.has_class("-no-color")
    assert snap_compare(app, terminal_size=(80, 24), run_before=SCREENS[name])

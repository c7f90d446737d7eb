"""The admin path, the Users screen and a user's comparison, driven by keys as a person would."""

from __future__ import annotations

import sqlite3

import pytest

from console.app import MsextApp
from console.screens.admin import (
    AdminScreen,
    ExtensionsScreen,
    MicrosoftExtensionsScreen,
)
from console.screens.exchange.page import ExchangeScreen
from console.screens.help import GLOBAL_KEYS, HelpScreen
from console.screens.teams.page import TeamsScreen
from console.screens.user import UserScreen
from console.screens.users import UsersScreen
from console.widgets.breadcrumb import Breadcrumb
from engine.profile import Profile
from tests.console.walk import settle


def crumb(app: MsextApp) -> str:
    return str(app.screen.query_one(Breadcrumb).trail)


async def test_keys_alone_reach_microsoft_extensions_and_back(app: MsextApp) -> None:
    """R13: Admin > Extensions & Integrations > Microsoft Extensions by Enter; Esc goes up."""
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, AdminScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, ExtensionsScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
        assert app.screen.query_one(Breadcrumb).trail == (
            "Admin",
            "Extensions & Integrations",
            "Microsoft Extensions",
        )
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, AdminScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, AdminScreen), "Esc on the root stays"


async def test_every_module_has_its_page(app: MsextApp) -> None:
    """Each of the four extension modules opens its page; none says it is not available."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(MicrosoftExtensionsScreen)
        await settle(pilot)
        labels = [str(option.prompt) for option in app.screen.query_one("#menu").options]
        assert len(labels) == 4
        assert not [label for label in labels if "not available" in label]
        await pilot.press("end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, TeamsScreen)


async def test_users_filter_and_open_a_user(app: MsextApp) -> None:
    """`/` filters the Users table by name or e-mail; Enter opens the user's comparison."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        table = app.screen.query_one("#users-table")
        assert table.row_count == 30
        await pilot.press("slash", *"brooks", "enter")
        assert table.row_count == 1
        await pilot.press("enter")
        assert isinstance(app.screen, UserScreen)
        assert app.screen.query_one(Breadcrumb).trail == ("Admin", "Users", "Ben Brooks")
        conflicts = str(app.screen.query_one("#conflicts").render())
        assert "Contacts are synced by both modules" in conflicts


async def test_comparison_shows_the_highlighted_rows_text(app: MsextApp) -> None:
    """R20: moving through the comparison shows each row's full text for both modules."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        await pilot.press("enter")
        detail = app.screen.query_one("#row-detail")
        assert "Interval" in str(detail.render())
        await pilot.press("j", "j")
        assert "When it runs" in str(detail.render())


async def test_question_mark_shows_the_keys_of_the_screen(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys")
        rows = [[str(cell) for cell in keys.get_row_at(index)] for index in range(keys.row_count)]
        assert ["/", "Filter"] in rows
        assert all([key, does] in rows for key, does in GLOBAL_KEYS)
        await pilot.press("escape")
        assert isinstance(app.screen, UsersScreen)


async def test_palette_jumps_to_pages_and_users(app: MsextApp) -> None:
    """ctrl+p finds a page or a user by name and opens it with the admin path beneath it."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p", *"teams")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TeamsScreen)
        assert [type(s).__name__ for s in app.screen_stack] == [
            "AdminScreen",
            "ExtensionsScreen",
            "MicrosoftExtensionsScreen",
            "TeamsScreen",
        ]
        await pilot.press("ctrl+p", *"fischer")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert crumb(app) == str(("Admin", "Users", "Ava Fischer"))


async def test_q_quits(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        assert app.return_code == 0 or not app.is_running


async def test_long_tables_draw_a_page_and_say_so(
    app: MsextApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more matches than a table draws, the Users and Resources tables show the first
    ones and say how many there are; the filter narrows them."""
    monkeypatch.setattr("console.screens.users.MAX_ROWS", 10)
    monkeypatch.setattr("console.screens.exchange.resources.MAX_ROWS", 10)
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        assert app.screen.query_one("#users-table").row_count == 10
        note = app.screen.query_one("#users-note")
        assert note.display and "Showing 10 of 30 matches" in str(note.render())
        await pilot.press("slash", *"kim")
        assert app.screen.query_one("#users-table").row_count == 1 and not note.display
        app.go(ExchangeScreen)
        await settle(pilot)
        app.screen.query_one("#exchange-tabs").active = "tab-resources"
        await pilot.pause()
        assert app.screen.query_one("#resources-table").row_count == 10
        assert "Showing 10 of 30 matches" in str(app.screen.query_one("#resources-note").render())


async def test_brackets_in_psa_data_are_shown_as_typed(demo_profile: Profile) -> None:
    """Tables, lists and the palette show PSA text as it is: a DataTable or a Select reads
    a plain string as markup, so "[contractor]" vanished and "[/b]" stopped the console
    while drawing."""
    with sqlite3.connect(demo_profile.paths.psa_db) as db:
        db.execute("UPDATE resources SET last_name = 'Fischer [contractor]' WHERE id = 1")
        db.execute("UPDATE resources SET last_name = 'Brooks [/b]' WHERE id = 2")
    app = MsextApp(Profile(demo_profile.paths))
    async with app.run_test(size=(120, 40)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        shown = app.export_screenshot()
        app.go(ExchangeScreen)
        await settle(pilot)
        app.screen.query_one("#test-mailbox").focus()
        await pilot.press("enter")
        await pilot.pause()
        listed = app.export_screenshot()
        await pilot.press("escape", "ctrl+p", *"brooks")
        await pilot.pause(1.0)
        found = app.export_screenshot()
    assert "Fischer&#160;[contractor]" in shown and "Brooks&#160;[/b]" in shown
    assert "[/b]&#160;&lt;ben.brooks@contoso.example&gt;" in found, "the palette finds him"
    assert "Fischer&#160;[contractor]" in listed and "Brooks&#160;[/b]" in listed


async def test_notifications_are_plain_text(demo_profile: Profile) -> None:
    """Notifications carry PSA text ("Syncing <name>"), so none is read as markup: a name
    like "Brooks [/b]" would stop the console while drawing its toast."""
    with sqlite3.connect(demo_profile.paths.psa_db) as db:
        db.execute("UPDATE resources SET last_name = 'Brooks [/b]' WHERE id = 2")
    app = MsextApp(Profile(demo_profile.paths))
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_user(app.profile.find_user("ben"))
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        sent = list(app._notifications)  # before the run ends: a toast expires in seconds
        await app.workers.wait_for_complete()
    assert any("Syncing Ben Brooks [/b];" in note.message for note in sent)
    assert not any(note.markup for note in sent)

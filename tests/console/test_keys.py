"""Reaching things by keyboard at 80x24 (issue 18, item 5): tabs by fixed keys, `/` to the
page's filter from anywhere, Home/End in tables, a visible focus, pages open at their top."""

from __future__ import annotations

from textual.widgets import DataTable, Footer, Input, TabbedContent

from console.app import MsextApp
from console.screens.exchange.page import ExchangeScreen
from console.screens.outlook.page import OutlookScreen
from console.screens.users import UsersScreen
from tests.console.walk import settle, text


async def open_page(pilot, page: type) -> None:
    pilot.app.go(page)
    await settle(pilot)


def active_tab(app: MsextApp) -> str:
    return str(app.screen.query_one(TabbedContent).active)


def footer_keys(app: MsextApp) -> set[str]:
    return {binding.key_display or key for key, binding in _shown(app)}


def _shown(app: MsextApp):
    return [
        (key, active.binding)
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    ]


async def test_tabs_switch_by_fixed_keys_shown_in_the_footer(app: MsextApp) -> None:
    """] and [ switch tabs wherever focus is outside a text field (the Users table on a
    user's page, where right scrolls sideways), ctrl+pagedown/pageup even inside one."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, ExchangeScreen)
        assert app.screen.query_one(Footer)
        assert {"[", "]"} <= footer_keys(app)
        assert active_tab(app) == "tab-general"
        await pilot.press("right_square_bracket")
        assert active_tab(app) == "tab-sync"
        await pilot.press("right_square_bracket")
        assert active_tab(app) == "tab-resources"
        await pilot.press("slash", "right_square_bracket")
        assert app.focused.value == "]", "typed into a field, ] is text"
        await pilot.press("ctrl+pageup")
        assert active_tab(app) == "tab-sync"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert active_tab(app) == "tab-resources", "the keys wrap around"

        app.open_user(app.profile.find_user("chloe"))
        await settle(pilot)
        assert isinstance(app.focused, DataTable)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert active_tab(app) == "tab-diagnosis"
        await pilot.press("ctrl+pagedown")
        assert active_tab(app) == "tab-runs"


async def test_pages_without_tabs_or_filter_show_no_such_keys(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, OutlookScreen)
        assert not {"[", "]", "/"} & footer_keys(app)
        await pilot.press("right_square_bracket", "slash")
        assert isinstance(app.screen, OutlookScreen)


async def test_slash_reaches_the_filter_from_anywhere_and_keeps_it(app: MsextApp) -> None:
    """`/` typed in the filter selects its text (the next letters replace it) instead of
    adding a slash; from another tab it shows the filter's tab first."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, UsersScreen)
        await pilot.press("slash", *"kim", "slash")
        field = app.screen.query_one("#users-filter", Input)
        assert app.focused is field
        assert field.value == "kim"
        await pilot.press(*"ben")
        assert field.value == "ben"

        await open_page(pilot, ExchangeScreen)
        assert active_tab(app) == "tab-general"
        await pilot.press("slash")
        assert active_tab(app) == "tab-resources"
        assert app.focused is app.screen.query_one("#resources-filter")


async def test_a_filter_that_matches_nothing_says_so(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, UsersScreen)
        await pilot.press("slash", *"zzz")
        assert app.screen.query_one("#users-table", DataTable).row_count == 0
        assert "No match for 'zzz'" in text(app, "#users-note")
        assert app.screen.query_one("#users-note").display

        await open_page(pilot, ExchangeScreen)
        await pilot.press("slash", *"zzz")
        assert "No match for 'zzz'" in text(app, "#resources-note")


async def test_home_and_end_go_to_the_first_and_last_row(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, UsersScreen)
        table = app.screen.query_one("#users-table", DataTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_focus_is_drawn_as_a_bar_at_the_left(app: MsextApp) -> None:
    """A focus ring seen at a glance: the focused widget has a bar at its left, others not."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, UsersScreen)
        table = app.screen.query_one("#users-table")
        field = app.screen.query_one("#users-filter")
        assert table.styles.outline_left[0] and not field.styles.outline_left[0]
        await pilot.press("slash")
        assert field.styles.outline_left[0] and not table.styles.outline_left[0]


async def test_outlook_opens_at_its_top_with_the_r11_summary_in_view(app: MsextApp) -> None:
    """R11: the summary of users whose Outlook send actions are disabled is on screen when
    the page opens at 80x24 (it opened part-way down, the summary above the view)."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, OutlookScreen)
        form = app.screen.query_one("#outlook-form")
        assert form.scroll_y == 0
        usage = app.screen.query_one("#outlook-usage")
        assert form.region.contains_region(usage.region)
        await pilot.press("end")
        assert form.scroll_y == form.max_scroll_y > 0, "the keyboard scrolls the rest into view"

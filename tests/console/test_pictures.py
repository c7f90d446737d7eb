"""Runs at a glance and reasons in full (issue 18, items 6 and 10): after the demo's first
sync the Sync activity page, the Users list and a user's Runs tab draw recent runs from the
state store, and a failing user's whole reason is readable at 80x24."""

from __future__ import annotations

from textual.widgets import DataTable

from console.app import MsextApp
from console.charts import BARS, changed, spark
from console.screens.exchange.activity import ActivityScreen
from console.screens.users import UsersScreen
from tests.console.walk import settle, text


def row_of(app: MsextApp, table_id: str, name: str) -> list[str]:
    table = app.screen.query_one(table_id, DataTable)
    rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
    return next(row for row in rows if row[0] == name)


def test_spark_scales_to_the_largest_value() -> None:
    assert spark([0, 5, 10]) == BARS[0] + BARS[4] + BARS[-1]
    assert spark([0, 0]) == BARS[0] * 2
    assert spark([]) == ""


async def test_activity_shows_the_last_runs_counts_and_history(synced_app: MsextApp) -> None:
    """Once a run is over the page shows each user's last counts from the state store and
    a sparkline of runs (it showed empty New/Upd/Del/Err columns and dotted progress)."""
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await settle(pilot)
        ava = app.profile.find_user("ava")
        last = app.profile.state.user_runs(ava.id, limit=1)[0]
        row = row_of(app, "#activity-users", "Ava Fischer")
        assert row[3:] == [str(last.created), str(last.updated), str(last.deleted), "0"]
        assert row[1].strip() and set(row[1].strip()) <= set(BARS)
        history = text(app, "#activity-history")
        assert history.startswith("Last 1 run: changed")
        assert f"{changed(app.profile.state.runs(limit=1)[0]):,} changed, 1 err" in history


async def test_activity_shows_the_highlighted_users_whole_reason(synced_app: MsextApp) -> None:
    """R14: Chloe's denied impersonation, cut off in the table and the log, reads in full in
    the pane below the table, which Tab reaches for scrolling."""
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await settle(pilot)
        chloe = app.profile.find_user("chloe")
        message = app.profile.state.user_runs(chloe.id, limit=1)[0].message
        assert len(message) > 80
        table = app.screen.query_one("#activity-users", DataTable)
        table.move_cursor(row=table.get_row_index(str(chloe.id)))
        await pilot.pause()
        reason = text(app, "#activity-reason")
        assert reason.startswith("Chloe Reyes: error") and message in reason
        await pilot.press("tab")
        assert app.focused is app.screen.query_one("#activity-detail")


async def test_diagnosis_reason_pane_is_reached_by_keyboard(synced_app: MsextApp) -> None:
    """R14: the Diagnosis tab's detail pane holds the failed check's whole evidence and
    fix; Tab reaches it, so a long one scrolls by keyboard."""
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_user(app.profile.find_user("chloe"))
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "impersonat" in text(app, "#check-detail")
        app.screen.query_one("#diagnosis-table").focus()
        await pilot.press("tab")
        assert app.focused is app.screen.query_one("#diagnosis-detail")


async def test_users_and_runs_tab_draw_recent_runs(synced_app: MsextApp) -> None:
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(UsersScreen)
        await settle(pilot)
        assert row_of(app, "#users-table", "Ava Fischer")[4] == BARS[-1]
        app.open_user(app.profile.find_user("ava"))
        await settle(pilot)
        app.screen.query_one("#user-tabs").active = "tab-runs"
        await settle(pilot)
        assert text(app, "#runs-summary").endswith(f"oldest to newest: {BARS[-1]}")

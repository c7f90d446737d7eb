"""Support in the console: a user's diagnosis, runs and item history; the Activity screen."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Log, Select, Static

from console import sync_session
from console.app import MsextApp
from console.cli import main
from console.screens.exchange.activity import ActivityScreen
from console.screens.user import UserScreen
from console.sync_session import Level
from engine.exchange.sync import serve_request
from engine.exchange.triggers import PSA_CHANGE, SyncRequest
from engine.profile import Profile
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import RecordKind


@pytest.fixture
def held_run(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Console runs wait at their start until the test sets the event: a run is surely in
    progress while the test presses keys, however fast the machine syncs."""
    release = threading.Event()
    real_sync = sync_session.sync

    def held(*args: object, **kwargs: object) -> Iterator[object]:
        release.wait(timeout=60)
        yield from real_sync(*args, **kwargs)

    monkeypatch.setattr(sync_session, "sync", held)
    return release


def cells(app: MsextApp, table_id: str) -> list[list[str]]:
    table = app.screen.query_one(table_id, DataTable)
    return [[str(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def text(app: MsextApp, widget_id: str) -> str:
    return str(app.screen.query_one(widget_id, Static).render())


async def open_tab(pilot: Pilot, query: str, presses: int) -> None:
    """Open a user's page, then walk right along its tabs as a person would."""
    app: MsextApp = pilot.app  # type: ignore[assignment]
    app.open_user(app.profile.find_user(query))
    await pilot.pause()
    assert isinstance(app.screen, UserScreen)
    await pilot.press("shift+tab", *["right"] * presses)
    await app.workers.wait_for_complete()
    await pilot.pause()


def diagnosis_row(app: MsextApp, title_start: str) -> list[str]:
    return next(row for row in cells(app, "#diagnosis-table") if row[1].startswith(title_start))


@pytest.mark.parametrize(
    ("query", "check", "result", "fix"),
    [
        ("chloe", "The synchronization account can impersonate", "FAILED", "grant"),
        ("daniel", "Enabled for the MS Exchange extension", "FAILED", "Resources tab"),
        ("ben", "Conflicts with the MS Outlook extension", "WARNING", "Enable contact"),
    ],
)
async def test_diagnosis_gives_each_demo_case_its_verdict_and_fix(
    app: MsextApp, query: str, check: str, result: str, fix: str
) -> None:
    """R14, R12: the denied mailbox, the user not enabled and the contact conflict each get
    their verdict; the highlighted check's evidence and fix show below the table."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(pilot, query, 1)
        assert diagnosis_row(app, check)[0] == result
        titles = [row[1] for row in cells(app, "#diagnosis-table")]
        table = app.screen.query_one("#diagnosis-table", DataTable)
        await pilot.press("tab", *["k"] * table.cursor_row)
        assert app.focused is table
        await pilot.press(*["j"] * next(i for i, t in enumerate(titles) if t.startswith(check)))
        assert check in text(app, "#check-detail") and fix in text(app, "#check-detail")
        summary = text(app, "#diagnosis-summary")
        assert summary.startswith(f"Verdict: {'FAILED' if result == 'FAILED' else 'WARNING'}")


async def test_sync_now_from_a_user_page_makes_a_healthy_user_pass(app: MsextApp) -> None:
    """R04: `s` syncs Ava alone; her Runs tab shows the run and `r` then finds every check ok."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(pilot, "ava", 1)
        assert diagnosis_row(app, "Last run")[0] == "WARNING", "never synced yet"
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = app.sync_session.state.result
        assert result is not None and [user.name for user in result.users] == ["Ava Fischer"]
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert {row[0] for row in cells(app, "#diagnosis-table")} == {"ok"}
        assert text(app, "#diagnosis-summary").startswith("Verdict: OK")
        await pilot.press("right")
        (run,) = cells(app, "#runs-table")
        assert run[2] == "ok" and int(run[3]) == result.totals["created"] > 0


async def test_sync_now_refuses_a_user_not_enabled(app: MsextApp) -> None:
    """R15: Daniel is not enabled on the Resources tab: nothing runs, the page says where."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(pilot, "daniel", 0)
        await pilot.press("s")
        await pilot.pause()
        assert not app.sync_session.state.running and app.sync_session.state.result is None
        assert "Resources tab" in str(list(app._notifications)[-1].message)


async def test_item_history_finds_a_record_by_subject_and_key(synced_app: MsextApp) -> None:
    """R04: searching Ava's items by subject, then by record key, shows the event that
    created the item, with the rule that decided it."""
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(pilot, "ava", 3)
        search = app.screen.query_one("#history-search", Input)
        await pilot.click("#history-search")
        await pilot.press(*"kick-off", "enter")
        rows = cells(app, "#history-table")
        assert rows and all(row[4] == "Project kick-off" for row in rows)
        key = rows[0][3]
        assert rows[0][1:3] == ["create done", "R04"] and key.startswith("appointment:")
        search.value = ""
        await pilot.click("#history-search")
        await pilot.press(*key, "enter")
        (only,) = cells(app, "#history-table")
        assert only[3] == key and f"PSA record: {key}" in text(app, "#event-detail")
        search.value = ""
        await pilot.click("#history-search")
        await pilot.press(*"no such thing", "enter")
        assert cells(app, "#history-table") == []
        assert "No events for 'no such thing'" in text(app, "#event-detail")


async def test_activity_sync_now_stays_responsive_and_totals_match_status(
    app: MsextApp, capsys: pytest.CaptureFixture[str], held_run: threading.Event
) -> None:
    """R04, R09: `s` on the Activity page syncs everyone in a worker; keys still work during
    the run; the finished run's totals equal what `msext status --json` reports."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert app.sync_session.state.running
        table = app.screen.query_one("#activity-users", DataTable)
        await pilot.press("j", "j", "j", "k")
        assert app.sync_session.state.running, "the keys were handled during the run"
        assert table.cursor_row == 2
        held_run.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = app.sync_session.state.result
        assert result is not None and not app.sync_session.state.running
        status = text(app, "#activity-status")
        assert status.startswith(f"Run {result.run_id} (")
        assert f"created {result.totals['created']}," in status
        progress = app.screen.query_one("#activity-overall").progress
        assert progress == len(result.users) == table.row_count
        assert all(row[1].startswith("█" * 10) for row in cells(app, "#activity-users"))
    capsys.readouterr()
    assert main(["--profile", "demo", "status", "--json"]) == 1
    last_run = json.loads(capsys.readouterr().out)["last_run"]
    assert last_run["run_id"] == result.run_id
    for what in ("created", "updated", "deleted", "skipped", "errors"):
        assert last_run[what] == result.totals[what], what


async def test_activity_log_filters_by_level_and_user(synced_app: MsextApp) -> None:
    """R14: after syncing Chloe and Ava, the log narrows to errors (Chloe's denied mailbox)
    and to the lines of one user."""
    app = synced_app
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await pilot.pause()
        table = app.screen.query_one("#activity-users", DataTable)
        for name in ("Chloe Reyes", "Ava Fischer"):
            table.move_cursor(row=[row[0] for row in cells(app, "#activity-users")].index(name))
            await pilot.press("u")
            await app.workers.wait_for_complete()
            await pilot.pause()
        log = app.screen.query_one("#activity-log", Log)
        everything = list(log.lines)
        assert any("Ava Fischer" in line for line in everything)
        app.screen.query_one("#activity-level", Select).value = int(Level.ERROR)
        await pilot.pause()
        errors = list(log.lines)
        assert errors and all(" error " in line for line in errors)
        assert any("Chloe Reyes: error" in line and "R14" in line for line in errors)
        app.screen.query_one("#activity-level", Select).value = 0
        await pilot.press("slash", *"ava", "enter")
        assert list(log.lines) and all("Ava Fischer" in line for line in log.lines)


async def test_activity_log_opens_on_its_newest_lines_and_follows_a_run(
    synced_app: MsextApp,
) -> None:
    """The log opens on its newest lines and follows a run of everyone to its last line,
    though the run's progress bar appears above it (it used to stop following there)."""
    app = synced_app
    async with app.run_test(size=(120, 35)) as pilot:
        app.go(ActivityScreen)
        await pilot.pause()
        log = app.screen.query_one("#activity-log", Log)
        assert log.max_scroll_y > 0, "more history than the log shows at once"
        assert log.scroll_y == log.max_scroll_y
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "finished" in log.lines[-1]
        assert log.scroll_y == log.max_scroll_y


async def test_activity_cancel_skips_users_not_started(
    app: MsextApp, held_run: threading.Event
) -> None:
    """`x` cancels a run: users not yet started end as cancelled, nothing is half-written."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await pilot.pause()
        await pilot.press("s", "x")
        await pilot.pause()
        assert text(app, "#activity-status").startswith("Cancelling")
        held_run.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = app.sync_session.state.result
        assert result is not None
        outcomes = [user.outcome for user in result.users]
        assert "cancelled" in outcomes and result.outcome in ("incomplete", "errors")


async def test_activity_without_the_extension_enabled_says_so(demo_profile: Profile) -> None:
    """R15: with the extension off nobody is synced, and the page says why instead of failing."""
    demo_profile.store.set_value("exchange.general.enabled", "false")
    app = MsextApp(demo_profile)
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(ActivityScreen)
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert app.sync_session.state.result is None
        messages = [str(n.message) for n in app._notifications]
        assert any("not enabled" in message for message in messages)
        assert any("Nobody to sync" in message for message in messages)


async def test_palette_sync_now_starts_a_run_and_shows_it(synced_app: MsextApp) -> None:
    """The command palette's "Sync now" starts a run for everyone and opens Sync activity
    (on the synced demo: the run is the palette's doing, not a first sync's minute)."""
    app = synced_app
    (last,) = app.profile.state.runs(limit=1)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"sync now")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ActivityScreen)
        result = app.sync_session.state.result
        assert result is not None and result.run_id > last.id


async def test_sync_now_beside_a_running_sync_names_it_instead_of_starting(app: MsextApp) -> None:
    """Invariant 1 across processes: while another process syncs the profile (the daemon or
    `msext sync`), `s` starts nothing and says who runs (pid, since when)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from engine.paths import ProfilePaths\n"
            "from engine.run_lock import RunLock\n"
            "lock = RunLock(ProfilePaths.for_profile(sys.argv[1]))\n"
            "lock.acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
            app.profile.name,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        async with app.run_test(size=(80, 24)) as pilot:
            await open_tab(pilot, "ava", 0)
            await pilot.press("s")
            await pilot.pause()
            assert not app.sync_session.state.running and app.sync_session.state.result is None
            message = str(list(app._notifications)[-1].message)
            assert f"already running (pid {holder.pid}, since " in message
    finally:
        holder.kill()
        holder.wait()


async def test_activity_shows_what_triggered_each_users_sync_and_its_latency(
    synced_app: MsextApp, synced_profile: Profile
) -> None:
    """Issue 21: after a PSA change synced by the change poll, Sync activity shows Ava's
    last run as triggered by the PSA with its latency (in the table at 80x24, in words in
    the pane below); the others still show the schedule."""
    psa = EmbeddedPsa(synced_profile.paths.psa_db)
    cursor = psa.cursor()
    (row,) = psa._rows("SELECT id FROM appointments WHERE resource_id = 1 LIMIT 1")
    psa.update(RecordKind.APPOINTMENT, row["id"], title="Moved by the PSA")
    summary = psa.changes_since(cursor)
    psa.close()
    request = SyncRequest(PSA_CHANGE, frozenset({1}), summary.changed_at)
    for _ in serve_request(synced_profile, request):
        pass
    async with synced_app.run_test(size=(80, 24)) as pilot:
        synced_app.go(ActivityScreen)
        await pilot.pause()
        rows = {row[0]: row[2] for row in cells(synced_app, "#activity-users")}
        assert re.fullmatch(r"ok \d\d-\d\d \d\d:\d\d PSA \d+s", rows["Ava Fischer"])
        assert rows["Ben Brooks"] == "ok 11-24 09:00"
        assert re.search(
            r"trigger: PSA change, written to the mailbox \d+s after the change\.$",
            text(synced_app, "#activity-reason"),
        )

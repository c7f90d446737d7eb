"""The state database: schema versions, atomic pages, links, runs and events."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.exchange.mailbox.base import ChangePage, FolderKind, MailboxItem
from engine.exchange.reconcile import Link
from engine.exchange.rules import Origin
from engine.state import SCHEMA_VERSION, EventDraft, StateStore
from engine.storage import SqliteStore

T = datetime(2026, 11, 24, 9, tzinfo=UTC)


def item(item_id: str, stamp: str | None = None, master: str | None = None) -> MailboxItem:
    return MailboxItem(
        item_id,
        "ck1",
        FolderKind.CALENDAR,
        stamp,
        True,
        subject="S",
        start=T,
        end=T,
        master_id=master,
        digest="d",
    )


def test_new_database_is_wal_private_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    StateStore(path).close()
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match="newer msext"):
        StateStore(path)


class SlowToMigrate(SqliteStore):
    """A first migration that takes a moment, as a large table's would."""

    MIGRATIONS = (
        "CREATE TABLE first (x);"
        " WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000)"
        " INSERT INTO first SELECT x FROM n",
        "CREATE TABLE second (x)",
    )


def test_two_connections_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    """The daemon's services open the same databases at the same moment: the second to
    open waits for the first one's migration and finds it done, instead of running it
    again ("table already exists")."""
    path = tmp_path / "slow.sqlite"
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            SlowToMigrate(path).close()
        except BaseException as error:
            errors.append(error)

    first = threading.Thread(target=open_store)
    first.start()
    time.sleep(0.05)
    open_store()
    first.join()
    assert errors == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM first").fetchone()[0] == 300000


def test_pages_apply_with_their_sync_state() -> None:
    """A pulled page and its sync state land together; a deleted series takes its occurrences."""
    state = StateStore(":memory:")
    state.apply_page(1, FolderKind.CALENDAR, ChangePage((item("a"), item("m")), (), "s1", False))
    state.replace_occurrences(1, ["m"], [item("m#1", master="m"), item("m#2", master="m")])
    assert set(state.mirror(1)) == {"a", "m", "m#1", "m#2"}
    state.apply_page(1, FolderKind.CALENDAR, ChangePage((), ("m",), "s2", True))
    assert set(state.mirror(1)) == {"a"} and state.sync_state(1, FolderKind.CALENDAR) == "s2"
    state.reset_folder(1, FolderKind.CALENDAR)
    assert state.mirror(1) == {} and state.sync_state(1, FolderKind.CALENDAR) is None


def test_a_failed_step_commits_nothing() -> None:
    """Effects of one step are all or nothing (what a kill mid-step relies on)."""
    state = StateStore(":memory:")
    link = Link("appointment:1", Origin.PSA, "a", "ck", FolderKind.CALENDAR, "d", "h", T, T)
    with pytest.raises(sqlite3.IntegrityError):
        state.record(1, put_links=[link], put_items=[item("a"), item(None)])  # type: ignore[arg-type]
    assert state.links(1) == {} and state.mirror(1) == {}
    state.record(1, put_links=[link], put_items=[item("a")])
    assert state.links(1) == {"appointment:1": link}


def test_events_are_found_by_record_or_item() -> None:
    state = StateStore(":memory:")
    state.add_events(
        1,
        [
            EventDraft(
                5, "create", "done", "R04", "new in the PSA", key="appointment:1", item_id="a"
            ),
            EventDraft(
                5,
                "update",
                "failed",
                "R17",
                "changed",
                key="appointment:2",
                item_id="b",
                error="boom",
            ),
        ],
    )
    assert [e.verb for e in state.events(1, search="a")] == ["create"]
    assert [e.verb for e in state.events(1, search="appointment:2")] == ["update"]
    assert [e.error for e in state.events(1, outcome="failed")] == ["boom"]


def test_runs_record_totals() -> None:
    state = StateStore(":memory:")
    run_id = state.start_run("cli", dry_run=False)
    totals = {"created": 3, "updated": 1, "deleted": 0, "imported": 2, "skipped": 0, "errors": 1}
    state.finish_run(run_id, "errors", totals, users=2)
    (run,) = state.runs()
    assert (run.outcome, run.created, run.errors, run.users) == ("errors", 3, 1, 2)

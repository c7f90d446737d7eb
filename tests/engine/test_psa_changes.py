"""The PSA's change summary as the daemon's change poll reads it (issue 21): who changed,
since when, and what an idle poll costs; and the poll interval's budget over the REST API.

Both sources: the embedded PSA, and the REST API read with httpx over the PSA REST peer's
socket (which serves the same SQLite file, so the tests write into it directly).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.psa.budget import REST_IDLE_POLL_REQUESTS
from engine.psa.embedded import EmbeddedPsa, from_epoch_ms
from engine.psa.model import RecordKind
from engine.psa.rest import RestPsa
from engine.sandbox.psa_rest import PsaRestEmulator
from engine.settings.model import Settings
from tests.teams.test_tickets import Desk, both, desk, make_desk, rest_source

__all__ = ["both", "desk"]  # the fixtures: a small PSA, read directly and over the REST API

NOW = datetime.now(UTC).replace(microsecond=0)


def modified(psa: EmbeddedPsa, table: str, row_id: int) -> datetime:
    (row,) = psa._rows(f"SELECT modified_ms FROM {table} WHERE id = ?", (row_id,))
    return from_epoch_ms(row[0])


def backdate(psa: EmbeddedPsa) -> None:
    """Everything so far last changed an hour ago (the REST API's cursor reads a few
    seconds back, as clocks differ)."""
    an_hour_ago = int((NOW - timedelta(hours=1)).timestamp() * 1000)
    with psa.transaction() as db:
        for table in ("resources", "companies", "contacts", "todos"):
            db.execute(f"UPDATE {table} SET modified_ms = ?", (an_hour_ago,))


def test_changes_name_each_user_with_the_earliest_change_time(both: Desk) -> None:
    """A changed appointment names its resource with the record's modification time (the
    earliest of its changes); a to-do whose contact changed names its resource too (R15);
    a contact change is shared by every user who syncs contacts, with its time."""
    psa, source = both.psa, both.reader
    psa.insert(
        "todos",
        resource_id=both.ben,
        company_id=both.company,
        contact_id=both.contact,
        action_type="call",
        start=NOW + timedelta(days=1),
        end=NOW + timedelta(days=1, hours=1),
    )
    backdate(psa)
    cursor = source.cursor()
    first = psa.insert(
        "appointments", resource_id=both.ava, title="Visit", start=NOW, end=NOW + timedelta(hours=1)
    )
    psa.insert(
        "appointments", resource_id=both.ava, title="Later", start=NOW, end=NOW + timedelta(hours=2)
    )
    psa.update(RecordKind.CONTACT, both.contact, title="Head of IT")
    summary = source.changes_since(cursor)
    assert {both.ava, both.ben} <= summary.resource_ids
    assert summary.changed_at[both.ava] == modified(psa, "appointments", first)
    assert summary.changed_at[both.ben] == modified(psa, "contacts", both.contact)
    assert summary.contacts_changed
    assert summary.shared_changed_at == modified(psa, "contacts", both.contact)


def test_a_deleted_record_names_its_user_with_the_time_of_the_deletion(desk: Desk) -> None:
    """The embedded PSA keeps when a record was deleted: the poll's latency starts there."""
    psa = desk.psa
    gone = psa.insert(
        "appointments", resource_id=desk.ben, title="Gone", start=NOW, end=NOW + timedelta(hours=1)
    )
    cursor = psa.cursor()
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    psa.delete(RecordKind.APPOINTMENT, gone)
    summary = psa.changes_since(cursor)
    assert summary.resource_ids == {desk.ben}
    assert before <= summary.changed_at[desk.ben] <= datetime.now(UTC)


def test_an_idle_poll_of_the_embedded_psa_is_one_query(desk: Desk) -> None:
    """Nothing changed: one query (the change sequence), whatever the PSA holds."""
    psa = desk.psa
    cursor = psa.cursor()
    before = psa.queries
    summary = psa.changes_since(cursor)
    assert summary.empty and summary.cursor == cursor
    assert psa.queries - before == 1


def test_an_idle_poll_of_the_rest_api_costs_the_stated_requests(tmp_path: Path) -> None:
    """Nothing changed: the requests the budget check reckons with
    (REST_IDLE_POLL_REQUESTS), counted on the wire."""
    desk = make_desk(tmp_path / "psa.sqlite")
    backdate(desk.psa)
    with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
        source: RestPsa = rest_source(peer)
        cursor = source.cursor()
        before = source.client.requests
        assert source.changes_since(cursor).empty
        assert source.client.requests - before == REST_IDLE_POLL_REQUESTS
        source.close()
    desk.psa.close()


def _poll(kind: str, seconds: int) -> Settings:
    psa = {"kind": kind}
    if kind == "rest":
        psa |= {
            "rest_url": "https://webservices.example.com/ATServicesRest/",
            "rest_username": "api@example.com",
            "rest_integration_code": "CODE",
            "rest_secret": "env:MSEXT_SECRET_PSA",
        }
    return Settings.model_validate(
        {"psa": psa, "exchange": {"sync": {"psa_poll_seconds": seconds}}}
    )


def test_a_poll_interval_over_the_api_share_is_refused_with_the_arithmetic() -> None:
    """Over the REST API, a poll that would take more than msext's 10% of the API's 10,000
    requests an hour is refused in one line that shows the sum and the shortest interval
    that fits; the embedded PSA has no such budget, and 0 turns the poll off."""
    with pytest.raises(ValidationError) as refused:
        _poll("rest", 20)
    assert (
        "polling every 20 s costs 6 requests x 180 polls = 1,080 requests an hour, 10.8% of"
        " the PSA API's 10,000 an hour shared by all integrations; msext takes at most 10%:"
        " choose 22 s or more"
    ) in str(refused.value)
    assert _poll("rest", 22).exchange.sync.psa_poll_seconds == 22
    assert _poll("rest", 0).exchange.sync.psa_poll_seconds == 0
    assert _poll("embedded", 1).exchange.sync.psa_poll_seconds == 1


def test_an_older_psa_opened_by_two_connections_at_once_gets_its_columns_once(
    tmp_path: Path,
) -> None:
    """The first daemon start after an upgrade opens the PSA from several services at once:
    a connection that found a column missing, then waited for another one adding it, finds
    it there instead of adding it again ("duplicate column name")."""
    path = tmp_path / "psa.sqlite"
    EmbeddedPsa(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("ALTER TABLE tombstones DROP COLUMN at_ms")  # as before the upgrade
    other.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def open_psa() -> None:
        try:
            EmbeddedPsa(path).close()
        except BaseException as error:
            errors.append(error)

    opening = threading.Thread(target=open_psa)
    opening.start()
    time.sleep(0.3)  # it has found the column missing and waits for the write lock
    other.execute("ALTER TABLE tombstones ADD COLUMN at_ms INTEGER NOT NULL DEFAULT 0")
    other.execute("COMMIT")
    opening.join()
    other.close()
    assert errors == []

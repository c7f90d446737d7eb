"""Syncs that read the PSA through its REST API: paging, throttling, a refused login."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta

from exchangelib.protocol import close_connections

from engine.psa.demo import DemoSize
from engine.psa.model import RecordKind
from engine.psa.rest import split_origin
from engine.settings.secrets import write_secret_file
from tests.e2e.harness import AVA, Harness, stamp_key


def test_contacts_over_many_pages_with_a_429_in_the_middle_arrive_once() -> None:
    """R07, R08: with every contact shared, Ava's mailbox gets all of the PSA's contacts,
    read in pages of 500, although the API throttles twice along the way."""
    harness = Harness.create("rest-pages", size=DemoSize(resources=4), psa="rest")
    try:
        harness.set("exchange.sync.contact_scope", "all")
        psa = harness.psa()
        total = psa.counts()["contacts"]
        psa.close()
        assert total > 1000
        assert harness.psa_peer is not None
        harness.psa_peer.throttle(2, retry_after=0.05, after=6)
        result = harness.sync(AVA)
        assert result.users[0].outcome == "ok", result.as_dict()
        assert harness.psa_peer.state.throttled == 2
        contacts = harness.stamped(AVA, "contacts")
        assert len(contacts) == total and all(len(copies) == 1 for copies in contacts.values())
    finally:
        close_connections()
        harness.close()


def test_a_wrong_api_secret_stops_the_run_and_syncs_nothing() -> None:
    """The PSA refuses the API user: one line says so, exit 2, and no mailbox is touched."""
    harness = Harness.create("rest-refused", psa="rest")
    try:
        write_secret_file(harness.paths, "psa-rest", "not-the-secret")
        result = harness.cli("sync", "--once", "--json")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and "refused the API user" in result.stderr
        assert "not-the-secret" not in result.stderr
        assert harness.stamped(AVA) == {}
    finally:
        close_connections()
        harness.close()


def test_records_deleted_in_the_psa_during_a_run_are_no_ones_error() -> None:
    """R04, R16: someone deletes PSA records while a run writes to them. The appointment a
    person moved in Outlook is left to the next run (which removes its copy, the record
    being gone); a person's edited appointment is imported again under a new id; one
    deleted in Outlook is simply gone. No error, and no write lands on another record."""
    harness = Harness.create("rest-vanish", psa="rest")
    try:
        assert harness.psa_peer is not None
        workshop = harness.person_appointment(AVA, "Workshop", 3, 10)
        lunch = harness.person_appointment(AVA, "Lunch", 4, 12)
        harness.settled()
        imported = {row["title"]: row["id"] for row in harness.imported()}
        key = sorted(k for k in harness.stamped(AVA) if k.startswith("appointment:"))[0]
        moved = next(i for i in harness.outlook(AVA).calendar.all() if stamp_key(i) == key)
        moved.start += timedelta(days=1)
        moved.end += timedelta(days=1)
        moved.save(update_fields=["start", "end"])
        workshop.subject = "Workshop (room 2)"
        workshop.save(update_fields=["subject"])
        lunch.delete()
        harness.psa_peer.vanish(3)
        result = harness.sync(AVA)
        assert result.users[0].outcome == "ok" and result.totals["errors"] == 0, result.as_dict()
        assert harness.psa_peer.state.vanish_next == 0
        rows = {row["title"]: row["id"] for row in harness.imported()}
        assert "Lunch" not in rows and rows["Workshop (room 2)"] > max(imported.values())
        harness.sync(AVA)
        assert key not in harness.stamped(AVA)
    finally:
        close_connections()
        harness.close()


def test_origins_kept_in_the_old_local_file_move_into_the_records() -> None:
    """Invariant 1 on upgrade: a profile synced by a version that kept the origins of imported
    appointments in psa-rest.sqlite has them written into the records on its next run; the
    file goes, and nothing is exported or imported twice."""
    harness = Harness.create("rest-upgrade", psa="rest")
    try:
        harness.settled()
        before = sorted((row["id"], row["origin_key"]) for row in harness.imported())
        legacy = harness.paths.state_dir / "psa-rest.sqlite"
        with closing(sqlite3.connect(legacy)) as db, db:
            db.execute("CREATE TABLE imports (origin_key TEXT PRIMARY KEY, appointment_id INT)")
            db.executemany("INSERT INTO imports VALUES (?, ?)", [(k, i) for i, k in before])
        psa = harness.psa()
        for record_id, _ in before:
            (row,) = psa._rows("SELECT description FROM appointments WHERE id = ?", (record_id,))
            psa.update(RecordKind.APPOINTMENT, record_id, description=split_origin(row[0])[0])
        psa.close()
        assert harness.imported() == []
        result = harness.sync()
        assert (result.totals["created"], result.imported) == (0, 0), result.as_dict()
        assert sorted((row["id"], row["origin_key"]) for row in harness.imported()) == before
        assert not legacy.exists()
    finally:
        close_connections()
        harness.close()

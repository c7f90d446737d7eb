"""The engine's safety promises under the situations that broke them (issue 15): one run per
profile at a time, the deletion guard against a PSA that answers empty, held users staying
held, and imported appointments that keep their origin in the PSA itself."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from exchangelib import CalendarItem, EWSDateTime
from exchangelib.protocol import close_connections

from engine.profile import Profile
from engine.psa.model import RecordKind
from engine.sandbox.ews import FaultKind
from tests.e2e.harness import AVA, Harness


def started_runs(harness: Harness) -> list[int]:
    profile = Profile(harness.paths)
    try:
        return [run.id for run in profile.state.runs() if run.finished_at is None]
    finally:
        profile.close()


def wait_for_a_run(harness: Harness, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until ``process`` has recorded its run; it must still be running then."""
    deadline = time.monotonic() + timeout
    while not started_runs(harness):
        assert process.poll() is None, "the run ended before it was seen: stall it longer"
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)


def stall_once(harness: Harness, seconds: int, after: int = 8) -> None:
    """Make one mailbox request of the next run answer ``seconds`` late, once ``after``
    others were answered, so that the run lasts."""
    if harness.graph is not None:
        harness.graph.throttle(1, retry_after=seconds, after=after)
    else:
        harness.emulator.faults.set(FaultKind.SLOW, count=1, delay_ms=seconds * 1000, after=after)


def duplicates(harness: Harness) -> dict[str, int]:
    found = {}
    for address, granted in harness.emulator.mailboxes():
        for folder in ("calendar", "contacts") if granted else ():
            for key, copies in harness.stamped(address, folder).items():
                if len(copies) > 1:
                    found[f"{address}/{key}"] = len(copies)
    return found


def test_a_second_run_of_the_profile_names_the_first_and_never_runs_beside_it(
    either_api: Harness,
) -> None:
    """Invariant 1 across processes: while `msext sync --once` runs, a second one exits 75
    with one line naming the first (pid, since when), one with --wait runs after it, and no
    item is doubled. A holder killed with SIGKILL blocks nothing."""
    harness = either_api
    stall_once(harness, 5)
    first = harness.popen("sync", "--once")
    wait_for_a_run(harness, first)
    refused = harness.cli("sync", "--once", "--json")
    patient = harness.popen("sync", "--once", "--wait", "120")
    assert first.wait(timeout=120) == 1  # Chloe's mailbox is not granted (R14)
    assert duplicates(harness) == {}
    assert refused.returncode == 75 and refused.stdout == "", refused.stderr
    assert refused.stderr.count("\n") == 1
    assert f"already running (pid {first.pid}, since " in refused.stderr
    assert patient.wait(timeout=120) == 1
    assert duplicates(harness) == {}
    assert len(started_runs(harness)) == 0
    stall_once(harness, 10, after=0)
    killed = harness.popen("sync", "--once")
    wait_for_a_run(harness, killed)
    killed.kill()
    killed.wait()
    after = harness.cli("sync", "--once", "--json")
    assert after.returncode == 1 and "already running" not in after.stderr
    assert duplicates(harness) == {}


def delete_own_psa_appointments(harness: Harness, resource_id: int = 1) -> int:
    psa = harness.psa()
    try:
        ids = [
            row["id"]
            for row in psa._rows(
                "SELECT id FROM appointments WHERE resource_id = ? AND origin_key IS NULL",
                (resource_id,),
            )
        ]
        for record_id in ids:
            psa.delete(RecordKind.APPOINTMENT, record_id)
    finally:
        psa.close()
    return len(ids)


def test_a_held_user_stays_held_until_released(either_api: Harness) -> None:
    """Invariant 4: held deletions stay held and pending on the next runs of the same day, and
    `msext status`, `msext doctor` and the console's tables say so, until an administrator
    releases them with --allow-deletions."""
    harness = either_api
    harness.settled()
    stamped = len(harness.stamped(AVA))
    deleted = delete_own_psa_appointments(harness)
    first = harness.sync(AVA)
    assert first.users[0].outcome == "held"
    for _ in range(2):
        (ava,) = harness.sync(AVA).users
        assert (ava.outcome, ava.pending) == ("held", first.users[0].pending)
        assert ava.pending >= deleted and "deletions held" in ava.message
    status = json.loads(harness.cli("status", "--json").stdout)
    (row,) = [row for row in status["users"] if row["mailbox"] == AVA]
    assert (row["outcome"], row["pending"]) == ("held", ava.pending) and row["guard"]
    doctor = json.loads(harness.cli("doctor", AVA, "--json").stdout)
    checks = {check["key"]: check for check in doctor["checks"]}
    assert checks["guard"]["verdict"] == "failed" and checks["last_run"]["verdict"] == "warning"
    assert len(harness.stamped(AVA)) == stamped
    released = harness.cli("sync", "--once", "--user", AVA, "--allow-deletions", "--json")
    assert json.loads(released.stdout)["deleted"] == deleted
    (ava,) = harness.sync(AVA).users
    assert (ava.outcome, ava.pending) == ("ok", 0)
    status = json.loads(harness.cli("status", "--json").stdout)
    (row,) = [row for row in status["users"] if row["mailbox"] == AVA]
    assert (row["outcome"], row["guard"]) == ("ok", None)


@pytest.fixture(params=["ews", "graph"])
def rest_psa(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo with its PSA read through the REST API, over EWS and over Graph."""
    harness = Harness.create(psa="rest", api=request.param)
    yield harness
    close_connections()
    harness.close()


def test_a_psa_that_answers_empty_deletes_nothing_and_loses_no_import(rest_psa: Harness) -> None:
    """Invariant 4 against an outage: the PSA's API answers Ava's reads with nothing. She has
    as many imports as PSA items, which once made 100% of her PSA items only 50% of "synced
    items". The run holds: her items stay and her imports stay linked (they were detached
    for good); once the PSA answers again her edits reach it."""
    harness = rest_psa
    for key in ("export_todos", "export_service_calls", "share_contacts"):
        harness.set(f"exchange.sync.{key}", "false")
    harness.settled()
    stamped = harness.stamped(AVA)
    mine = [row for row in harness.imported() if row["resource_id"] == 1]
    own = [
        harness.person_appointment(AVA, f"Own {n}", 2 + n // 4, 8 + n % 4)
        for n in range(len(stamped) - len(mine))
    ]
    harness.settled()
    imported = {row["id"] for row in harness.imported() if row["resource_id"] == 1}
    assert len(imported) == len(stamped)
    assert harness.psa_peer is not None
    harness.psa_peer.hide("Appointments", "CompanyToDos", "ServiceCalls", "Contacts")
    harness.person_appointment(AVA, "Made during the outage", 3, 13)
    (during,) = harness.sync(AVA).users
    assert harness.stamped(AVA).keys() == stamped.keys()
    harness.psa_peer.hide()
    own[0].subject = "Own 0 (room 4)"
    own[0].save(update_fields=["subject"])
    (after,) = harness.sync(AVA).users
    titles = {row["id"]: row["title"] for row in harness.imported() if row["resource_id"] == 1}
    assert imported < set(titles) and "Own 0 (room 4)" in titles.values()
    assert harness.stamped(AVA).keys() == stamped.keys()
    assert during.outcome == "held" and "the PSA answered with no record" in during.message
    assert after.outcome == "ok", after.message


def test_a_look_alike_of_a_psa_appointment_is_the_persons_own(rest_psa: Harness) -> None:
    """Invariant 2, R04: a person's own meeting with the title and times of a PSA appointment
    of theirs is imported as a new appointment; the PSA's record is neither rewritten nor
    taken out of the mailbox, and stays when the person deletes their meeting."""
    harness = rest_psa
    harness.settled()
    psa = harness.psa()
    try:
        (record,) = psa._rows(
            "SELECT * FROM appointments WHERE resource_id = 1 AND origin_key IS NULL"
            " AND start > ? ORDER BY start LIMIT 1",
            (int(time.time()) + 3600,),
        )
    finally:
        psa.close()
    key = f"appointment:{record['id']}"
    assert key in harness.stamped(AVA)
    start = datetime.fromtimestamp(record["start"], UTC)
    account = harness.outlook(AVA)
    twin = CalendarItem(
        account=account,
        folder=account.calendar,
        subject=record["title"],
        start=EWSDateTime.from_datetime(start),
        end=EWSDateTime.from_datetime(datetime.fromtimestamp(record["end"], UTC)),
        body="My own notes.",
    )
    twin.save()
    harness.settled()
    psa = harness.psa()
    try:
        (kept,) = psa._rows("SELECT * FROM appointments WHERE id = ?", (record["id"],))
    finally:
        psa.close()
    assert kept["description"] == record["description"]
    assert key in harness.stamped(AVA)
    (mine,) = [row for row in harness.imported() if row["title"] == record["title"]]
    assert mine["id"] != record["id"] and mine["description"] == "My own notes."
    twin.delete()
    harness.settled()
    assert not [row for row in harness.imported() if row["title"] == record["title"]]
    assert key in harness.stamped(AVA)


def test_losing_the_local_state_exports_no_imported_appointment(rest_psa: Harness) -> None:
    """Invariants 1 and 2: every local database of the profile's state is lost (the REST
    PSA's included); no imported appointment comes back into the mailbox as a PSA item, none
    is imported twice, and both sides stay as they were."""
    harness = rest_psa
    harness.settled()
    before = (
        {key: len(copies) for key, copies in harness.stamped(AVA).items()},
        sorted((row["id"], row["origin_key"]) for row in harness.imported()),
    )
    for database in harness.paths.state_dir.glob("*.sqlite*"):
        database.unlink()
    for _ in range(2):
        result = harness.sync()
        assert result.totals["created"] == 0 and result.imported == 0, result.as_dict()
        after = (
            {key: len(copies) for key, copies in harness.stamped(AVA).items()},
            sorted((row["id"], row["origin_key"]) for row in harness.imported()),
        )
        assert after == before

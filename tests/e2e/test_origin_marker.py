"""What people do in the PSA to the line that names an imported appointment's origin
(``[msext-origin: ...]``, the REST PSA's only record of it): remove it, type one, copy a
record that carries one. None of it may lose, double or move anyone's appointment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engine.psa.model import RecordKind
from tests.e2e.conftest import _harness
from tests.e2e.harness import AVA, Harness


@pytest.fixture
def rest_psa() -> Iterator[Harness]:
    """The small demo over EWS, its PSA read through the REST API."""
    yield from _harness(psa="rest")


def imported_meeting(harness: Harness) -> tuple[dict, object]:
    """Ava's own meeting, imported and settled: (its PSA row, the Outlook item)."""
    item = harness.person_appointment(AVA, "Physio", 2, 15, body="Bring the card.")
    harness.settled()
    (row,) = [row for row in harness.imported() if row["title"] == "Physio"]
    return row, item


def raw_row(harness: Harness, record_id: int) -> dict:
    psa = harness.psa()
    try:
        (row,) = psa._rows("SELECT * FROM appointments WHERE id = ?", (record_id,))
    finally:
        psa.close()
    return dict(row)


def calendar_subjects(harness: Harness) -> list[str]:
    return sorted(item["subject"] for item in harness.emulator.items(AVA, "calendar"))


def test_an_origin_line_removed_in_the_psa_doubles_nothing(rest_psa: Harness) -> None:
    """Invariant 1, R04: a person rewrites the description of an imported appointment in the
    PSA and the origin line goes with it. The record is still the import of Ava's meeting:
    no PSA copy of it lands in her calendar, her meeting stays linked (her next edit
    reaches the record) and the record carries its origin again."""
    harness = rest_psa
    row, item = imported_meeting(harness)
    psa = harness.psa()
    try:
        psa.update(RecordKind.APPOINTMENT, row["id"], description="Rewritten in the PSA")
    finally:
        psa.close()
    harness.settled()
    assert calendar_subjects(harness).count("Physio") == 1
    assert f"appointment:{row['id']}" not in harness.stamped(AVA)
    item.subject = "Physio (moved room)"
    item.save(update_fields=["subject"])
    harness.settled()
    (after,) = [r for r in harness.imported() if r["id"] == row["id"]]
    assert (after["title"], after["origin_key"]) == ("Physio (moved room)", row["origin_key"])


def test_an_origin_line_typed_into_a_psa_appointment_keeps_it_in_the_mailbox(
    rest_psa: Harness,
) -> None:
    """Invariant 2, R01: a person pastes a description ending with an origin line into one of
    Ava's PSA appointments (copied from an imported one). The record stays the PSA's own: its
    item is not deleted from her calendar."""
    harness = rest_psa
    row, _ = imported_meeting(harness)
    psa = harness.psa()
    try:
        (own,) = psa._rows(
            "SELECT * FROM appointments WHERE resource_id = 1 AND description NOT LIKE ?"
            " AND start > ? ORDER BY start LIMIT 1",
            ("%msext-origin%", int(datetime.now(UTC).timestamp()) + 3600),
        )
        key = f"appointment:{own['id']}"
        assert key in harness.stamped(AVA)
        pasted = f"Agenda as before.\n\n[msext-origin: {row['origin_key']}]"
        psa.update(RecordKind.APPOINTMENT, own["id"], description=pasted)
    finally:
        psa.close()
    harness.settled()
    assert key in harness.stamped(AVA)
    assert calendar_subjects(harness).count("Physio") == 1
    assert raw_row(harness, row["id"])["title"] == "Physio"


def test_a_copy_of_an_imported_appointment_in_the_psa_moves_no_ones_meeting(
    rest_psa: Harness,
) -> None:
    """Invariant 2, R16: a person copies Ava's imported appointment in the PSA to the next
    week (the copy keeps the description, origin line included). Her meeting stays where
    she put it, the original stays its import, and the copy is a PSA appointment of hers."""
    harness = rest_psa
    row, item = imported_meeting(harness)
    start = item.start
    original = raw_row(harness, row["id"])
    week = int(timedelta(days=7).total_seconds())
    psa = harness.psa()
    try:
        copy_id = psa.insert(
            "appointments",
            resource_id=1,
            title="Physio (follow-up)",
            description=original["description"],
            start=original["start"] + week,
            end=original["end"] + week,
        )
    finally:
        psa.close()
    harness.settled()
    (meeting,) = list(harness.outlook(AVA).calendar.filter(subject="Physio"))
    assert meeting.start == start
    assert raw_row(harness, row["id"])["start"] == original["start"]
    (copy,) = harness.stamped(AVA)[f"appointment:{copy_id}"]
    assert copy["subject"] == "Physio (follow-up)"

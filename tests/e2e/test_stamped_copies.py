"""A person's copy of a PSA appointment (made in Outlook, so it keeps the stamp) when the
record is deleted: the engine deletes its own item, never the person's meeting."""

from __future__ import annotations

import pytest

from engine.exchange.mailbox.ews import STAMP
from engine.psa.model import RecordKind, parse_record_key
from tests.e2e.harness import AVA, Harness


@pytest.mark.parametrize("lost", ["the original item", "the local state"])
def test_a_copy_made_into_another_meeting_outlives_the_deleted_record(
    harness: Harness, lost: str
) -> None:
    """Invariant 2, R01: Ava copies a PSA appointment into another meeting; before the next
    run its record is deleted in the PSA and either she deletes the original item (the link
    names an item that is gone) or the profile's state is lost (no link says which item is
    the engine's). Her meeting stays, unstamped, and reaches the PSA as hers."""
    harness.settled()
    key, original, copy = harness.copy_made_into_another_meeting(AVA)
    psa = harness.psa()
    try:
        psa.delete(RecordKind.APPOINTMENT, parse_record_key(key)[1])
    finally:
        psa.close()
    if lost == "the original item":
        harness.outlook(AVA).calendar.get(id=original["item_id"]).delete()
    else:
        for database in harness.paths.state_dir.glob("state.sqlite*"):
            database.unlink()
    harness.settled()
    (kept,) = [item for item in harness.emulator.items(AVA) if item["item_id"] == copy.id]
    copy.refresh()
    assert kept["subject"] == "Quarterly review" and not getattr(copy, STAMP, None)
    assert [row["title"] for row in harness.imported()].count("Quarterly review") == 1

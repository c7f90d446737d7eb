"""What an item is across runs: a stamped copy a person made their own, items that leave
the sync window, occurrences of a series, and a mailbox that changes or is shared."""

from __future__ import annotations

from engine.mailbox.base import stamp_value
from engine.mailbox.ews import STAMP
from tests.e2e.harness import AVA, Harness


def changes(result) -> tuple[int, int, int]:
    return tuple(result.totals[what] for what in ("created", "updated", "deleted"))  # type: ignore[return-value]


def test_a_stamped_copy_turned_into_another_meeting_is_the_persons(either_api: Harness) -> None:
    """Invariant 2, R04: a person copies a PSA appointment in Outlook (the copy keeps the
    stamp) and makes it another meeting; the copy is not deleted as a duplicate: its stamp
    is cleared and it reaches the PSA as the person's own appointment."""
    harness = either_api
    harness.settled()
    key, (original,) = sorted(
        (key, items)
        for key, items in harness.stamped(AVA).items()
        if key.startswith("appointment:")
    )[0]
    stamp = stamp_value(key, harness.installation)
    copy = harness.person_appointment(AVA, "Quarterly review", 5, 15, **{STAMP: stamp})
    harness.settled()
    assert [item["item_id"] for item in harness.stamped(AVA)[key]] == [original["item_id"]]
    (kept,) = [item for item in harness.emulator.items(AVA) if item["item_id"] == copy.id]
    copy.refresh()
    assert kept["subject"] == copy.subject == "Quarterly review" and not getattr(copy, STAMP, None)
    (row,) = [row for row in harness.imported() if row["title"] == "Quarterly review"]
    assert row["start"] == int(copy.start.timestamp())
    assert changes(harness.settled()) == (0, 0, 0)

"""What an item is across runs: a stamped copy a person made their own, items that leave
the sync window, occurrences of a series, and a mailbox that changes or is shared."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from exchangelib import UTC as EWS_UTC
from exchangelib import EWSDateTime

from engine.mailbox.base import stamp_value
from engine.mailbox.ews import STAMP
from engine.psa.model import RecordKind
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


def on_day(day: int, hour: int) -> datetime:
    return datetime.combine(date.today() + timedelta(days=day), time(hour), UTC)


def moved_in_outlook(item, day: int, hour: int) -> None:
    """A person drags an item to another day in Outlook."""
    length = item.end - item.start
    item.start = EWSDateTime.from_datetime(on_day(day, hour)).astimezone(EWS_UTC)
    item.end = item.start + length
    item.save(update_fields=["start", "end"])


def test_items_moved_past_the_sync_window_are_followed(every_peer: Harness) -> None:
    """R16, R17: what leaves the window (30 days ahead here) is followed by its id on both
    sides, not taken for deleted: a person's appointment and a PSA appointment moved in
    Outlook past the window move in the PSA; an imported appointment and a PSA appointment
    moved in the PSA past the window move in the mailbox. Nothing is deleted, copied or
    detached, over EWS and Graph alike."""
    harness = every_peer
    harness.set("exchange.sync.days_ahead", "30")
    workshop = harness.person_appointment(AVA, "Workshop", 3, 10)
    harness.settled()
    psa_keys = sorted(key for key in harness.stamped(AVA) if key.startswith("appointment:"))
    by_outlook, by_psa = psa_keys[0], psa_keys[1]
    account = harness.outlook(AVA)
    calendar = {getattr(item, STAMP, None) or item.subject: item for item in account.calendar.all()}
    moved_in_outlook(workshop, 60, 10)
    moved_in_outlook(calendar[by_outlook], 61, 9)
    (lunch,) = [
        row
        for row in harness.imported()
        if row["title"] == "Lunch with Harbor Logistics" and row["resource_id"] == 1
    ]
    psa = harness.psa()
    psa.update(RecordKind.APPOINTMENT, lunch["id"], start=on_day(62, 12), end=on_day(62, 13))
    record_id = int(by_psa.split(":")[1])
    psa.update(RecordKind.APPOINTMENT, record_id, start=on_day(63, 8), end=on_day(63, 9))
    psa.close()
    harness.settled()

    rows = {row["title"]: row for row in harness.imported() if row["resource_id"] == 1}
    assert rows["Workshop"]["start"] == int(on_day(60, 10).timestamp())
    assert rows["Lunch with Harbor Logistics"]["id"] == lunch["id"]
    psa = harness.psa()
    moved = {
        record.key: record.start for record in psa.calendar_records(1, on_day(59, 0), on_day(64, 0))
    }
    psa.close()
    assert moved[by_outlook] == on_day(61, 9)
    stamped = harness.stamped(AVA)
    assert len(stamped[by_outlook]) == len(stamped[by_psa]) == 1, "no second copy"
    calendar = {getattr(item, STAMP, None) or item.subject: item for item in account.calendar.all()}
    assert calendar["Lunch with Harbor Logistics"].start == on_day(62, 12)
    assert calendar[by_psa].start == on_day(63, 8)
    assert calendar["Workshop"].start == on_day(60, 10)
    assert changes(harness.sync(AVA)) == (0, 0, 0)

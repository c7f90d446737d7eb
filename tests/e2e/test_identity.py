"""What an item is across runs: a stamped copy a person made their own, items that leave
the sync window, occurrences of a series, and a mailbox that changes or is shared."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from exchangelib import UTC as EWS_UTC
from exchangelib import EWSDateTime

from engine.exchange.mailbox.base import stamp_value
from engine.exchange.mailbox.ews import STAMP
from engine.profile import Profile
from engine.psa.model import RecordKind
from engine.sandbox.ews import MailboxSpec
from engine.settings.store import SettingsStore
from tests.e2e.harness import AVA, BEN, Harness


def changes(result) -> tuple[int, int, int]:
    return tuple(result.totals[what] for what in ("created", "updated", "deleted"))  # type: ignore[return-value]


def test_a_stamped_copy_turned_into_another_meeting_is_the_persons(either_api: Harness) -> None:
    """Invariant 2, R04: a person copies a PSA appointment in Outlook (the copy keeps the
    stamp) and makes it another meeting; the copy is not deleted as a duplicate: its stamp
    is cleared and it reaches the PSA as the person's own appointment."""
    harness = either_api
    harness.settled()
    key, original, copy = harness.copy_made_into_another_meeting(AVA)
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
    moved_in_outlook(calendar[stamp_value(by_outlook, harness.installation)], 61, 9)
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
    assert calendar[stamp_value(by_psa, harness.installation)].start == on_day(63, 8)
    assert calendar["Workshop"].start == on_day(60, 10)
    assert changes(harness.sync(AVA)) == (0, 0, 0)


def series_rows(harness: Harness) -> dict[int, dict]:
    """Ben's appointments imported from his "Product team sync" series, by record id."""
    return {
        row["id"]: row
        for row in harness.imported()
        if row["title"].startswith("Product team sync") and row["resource_id"] == 2
    }


def test_occurrences_and_series_moved_in_outlook_move_in_the_psa(either_api: Harness) -> None:
    """R10, R16: occurrences are known by their series and the start the pattern gave them,
    not by their time: one occurrence moved in Outlook and then the whole series moved keep
    their PSA appointments, which move with them (none is detached or imported twice); one
    occurrence deleted in Outlook leaves the PSA (R04)."""
    harness = either_api
    harness.settled()
    before = series_rows(harness)
    assert len(before) >= 4
    account = harness.outlook(BEN)
    (master,) = [item for item in account.calendar.all() if item.subject == "Product team sync"]
    occurrences = sorted(
        (
            item
            for item in account.calendar.view(on_day(-1, 0), on_day(60, 0))
            if item.subject == "Product team sync"
        ),
        key=lambda item: item.start,
    )
    second = occurrences[1]
    moved_to = second.start + timedelta(hours=3)
    second.start, second.end = moved_to, second.end + timedelta(hours=3)
    second.save(update_fields=["start", "end"])
    harness.settled()
    after = series_rows(harness)
    assert set(after) == set(before), "the same appointments, none detached or new"
    shifted = {row_id for row_id in after if after[row_id]["start"] != before[row_id]["start"]}
    (row_id,) = shifted
    assert after[row_id]["start"] == int(moved_to.timestamp())

    master.refresh()
    master.start += timedelta(hours=1)
    master.end += timedelta(hours=1)
    master.save(update_fields=["start", "end"])
    harness.settled()
    later = series_rows(harness)
    assert set(later) == set(before)
    assert all(
        later[key]["start"] == before[key]["start"] + 3600 for key in later if key != row_id
    ), "the series moved by an hour"
    assert later[row_id]["start"] == int(moved_to.timestamp()), "the moved occurrence stays"

    occurrences[2].delete()
    harness.settled()
    assert len(series_rows(harness)) == len(before) - 1


def test_a_psa_move_of_an_occurrence_is_a_recorded_conflict(either_api: Harness) -> None:
    """R10, R16: an appointment that came from an occurrence of a person's series and was
    moved in the PSA gets its mailbox time back, and the run records the conflict with its
    rules instead of reverting it silently."""
    harness = either_api
    harness.settled()
    rows = series_rows(harness)
    row_id = min(rows)
    start = datetime.fromtimestamp(rows[row_id]["start"], UTC)
    psa = harness.psa()
    psa.update(
        RecordKind.APPOINTMENT,
        row_id,
        start=start + timedelta(hours=2),
        end=start + timedelta(hours=3),
    )
    psa.close()
    harness.settled()
    assert series_rows(harness)[row_id]["start"] == rows[row_id]["start"]
    profile = Profile(harness.paths)
    try:
        conflicts = [
            event
            for event in profile.state.events(2, search=f"appointment:{row_id}")
            if event.verb == "conflict"
        ]
    finally:
        profile.close()
    assert conflicts and "R10" in conflicts[0].rule and "R16" in conflicts[0].rule


def test_a_mailbox_two_resources_would_share_is_refused(either_api: Harness) -> None:
    """Invariant 2: Ben's mailbox set to Ava's address (her PSA e-mail, no override of her
    own) is refused by `msext config set`, naming both; a settings file that says so anyway
    stops both users' runs with that line, so neither's items reach the other's mailbox and
    Ava's imports stay hers."""
    harness = either_api
    harness.settled()
    ava_imports = {row["id"] for row in harness.imported() if row["resource_id"] == 1}
    ava_items = set(harness.stamped(AVA))
    refused = harness.cli("config", "set", "exchange.resources.2.mailbox", AVA)
    assert refused.returncode == 2
    assert "Ava Fischer (resource 1)" in refused.stderr and "(resource 2)" in refused.stderr
    SettingsStore(harness.paths).set_value("exchange.resources.2.mailbox", AVA)
    result = harness.sync()
    users = {user.user_id: user for user in result.users}
    for user_id in (1, 2):
        assert users[user_id].outcome == "error"
        assert (
            f"mailbox {AVA} is used by Ava Fischer (resource 1) and Ben" in users[user_id].message
        )
    assert set(harness.stamped(AVA)) == ava_items
    assert {row["id"] for row in harness.imported() if row["resource_id"] == 1} == ava_imports


def test_a_new_mailbox_address_cleans_the_old_mailbox_and_keeps_the_imports(
    either_api: Harness,
) -> None:
    """R04, invariant 2: Ava's mailbox address changes; the engine's items leave her old
    mailbox (to Deleted Items) and arrive in the new one, and the appointments imported from
    the old one stay in the PSA: nothing is left behind for good, nothing unimported."""
    harness = either_api
    harness.settled()
    psa_items = set(harness.stamped(AVA))
    imports = {row["id"] for row in harness.imported() if row["resource_id"] == 1}
    assert psa_items and imports
    new_address = "ava.fischer@fabrikam.example"
    harness.emulator.add_mailbox(MailboxSpec(new_address, "Ava Fischer"))
    harness.set("exchange.resources.1.mailbox", new_address)
    (ava,) = harness.sync(AVA).users
    assert ava.outcome == "ok", ava.message
    assert harness.stamped(AVA) == {}
    assert set(harness.stamped(new_address)) == psa_items
    assert {row["id"] for row in harness.imported() if row["resource_id"] == 1} >= imports
    assert changes(harness.sync(AVA)) == (0, 0, 0)

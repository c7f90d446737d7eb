"""A busy calendar: more items in the sync window than Exchange answers to one find."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic

from exchangelib import UTC as EWS_UTC
from exchangelib import CalendarItem, EWSDate, EWSDateTime
from exchangelib.recurrence import Recurrence, WeeklyPattern

from engine.sandbox.ews import FaultKind
from tests.e2e.harness import AVA, Harness
from tests.sandbox.peer import fill_calendar

BUSY = 1_100
SERIES = 8


def _at(day: int, hour: int) -> datetime:
    return datetime.combine(date.today() + timedelta(days=day), time(hour), UTC)


def test_more_than_a_thousand_items_and_a_series_sync_in_full(either_api: Harness) -> None:
    """R10: 1,100 appointments of Ava's in the window, then a weekly series after them: the
    run finishes (over EWS it looped for ever), every appointment and every occurrence
    reaches the PSA (none is taken for deleted because a view was cut at 1,000), and the
    next run changes nothing."""
    harness = either_api
    harness.set("exchange.sync.import_appointments", "without_details")
    fill_calendar(harness.emulator, AVA, "Busy", BUSY, _at(1, 6), timedelta(hours=6))
    outlook = harness.outlook(AVA)
    first = _at(300, 17)
    CalendarItem(
        account=outlook,
        folder=outlook.calendar,
        subject="Late series",
        start=EWSDateTime.from_datetime(first).astimezone(EWS_UTC),
        end=EWSDateTime.from_datetime(first + timedelta(hours=1)).astimezone(EWS_UTC),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[first.isoweekday()]),
            start=EWSDate.from_date(first.date()),
            number=SERIES,
        ),
    ).save()
    run = harness.cli("sync", "--once", "--user", AVA, "--json", timeout=120)
    (ava,) = json.loads(run.stdout)["users"]
    assert ava["outcome"] == "ok", ava["message"]
    assert ava["psa_changes"]["created"] > BUSY + SERIES and not ava["psa_changes"]["deleted"]
    titles = [row["title"] for row in harness.imported()]
    assert sum(title.startswith("Busy ") for title in titles) == BUSY
    assert titles.count("Late series") == SERIES
    again = json.loads(harness.cli("sync", "--once", "--user", AVA, "--json").stdout)
    assert (again["created"], again["updated"], again["deleted"]) == (0, 0, 0)


def test_a_stalled_user_is_reported_and_the_run_finishes(harness: Harness) -> None:
    """A user whose Exchange answers every request 1.5 s late stops at the per-user time
    limit: reported deferred with the setting named, the run finishes, and what was done
    is kept (the next run completes it without a duplicate)."""
    harness.set("exchange.sync.user_time_limit_seconds", "5")
    harness.emulator.faults.set(FaultKind.SLOW, probability=1.0, delay_ms=1_500)
    began = monotonic()
    (ava,) = harness.sync(AVA).users
    assert monotonic() - began < 15
    assert ava.outcome == "deferred" and "user_time_limit_seconds" in ava.message
    harness.emulator.faults.clear()
    harness.settled()
    assert all(len(copies) == 1 for copies in harness.stamped(AVA).values())

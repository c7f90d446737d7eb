"""All-day appointments keep their date whatever the zone of the host msext runs on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from exchangelib import CalendarItem, EWSDate, EWSTimeZone

from tests.e2e.harness import AVA, Harness


@pytest.mark.parametrize("host_zone", ["UTC", "Asia/Tokyo"])
def test_an_all_day_event_east_of_utc_keeps_its_date(
    either_api: Harness, host_zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R04: Ava, in Berlin, makes 'Offsite' an all-day event on a day in her Outlook; msext,
    run on a host in ``host_zone``, brings it to the PSA on that very day over EWS and over
    Graph (over EWS it came a day early on a host west of Berlin: exchangelib turned the
    start into a date in the host's zone, not the item's)."""
    harness = either_api
    day = date.today() + timedelta(days=5)
    outlook = harness.outlook(AVA, EWSTimeZone("Europe/Berlin"))
    CalendarItem(
        account=outlook,
        folder=outlook.calendar,
        subject="Offsite",
        is_all_day=True,
        start=EWSDate.from_date(day),
        end=EWSDate.from_date(day),
    ).save()
    monkeypatch.setenv("TZ", host_zone)
    run = harness.cli("sync", "--once", "--user", AVA)
    assert run.returncode == 0, run.stderr
    (offsite,) = [row for row in harness.imported() if row["title"] == "Offsite"]
    assert datetime.fromtimestamp(offsite["start"], UTC).date() == day

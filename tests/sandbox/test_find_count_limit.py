"""Past 1,000 items a find behaves as Exchange's EWSFindCountLimit makes it: paged requests
get at most 1,000 (250 when restricted) and are told more exist, unpaged ones are refused,
and a CalendarView, which has no offset, is read further only over a narrower range."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from exchangelib import Account
from exchangelib import errors as ews_errors
from exchangelib.protocol import close_connections

from tests.sandbox.peer import ALICE, fill_calendar, impersonate, new_emulator
from tests.sandbox.test_emulator import START

BUSY = 1_050
FIRST = datetime.fromtimestamp(START.timestamp(), UTC)


@pytest.fixture(scope="module")
def busy() -> Iterator[Account]:
    """Alice with 1,050 hour-long appointments one after the other (read only, shared)."""
    emulator = new_emulator()
    emulator.start()
    alice = impersonate(emulator)
    fill_calendar(emulator, ALICE, "Slot", BUSY, FIRST, timedelta(hours=1))
    yield alice
    close_connections()
    emulator.stop()


def test_indexed_paging_gets_at_most_the_limit_and_pages_on(busy: Account) -> None:
    """A page of 2,000 asked for comes back as 1,000 with IncludesLastItemInRange false and
    the next offset; exchangelib pages on and gets every item once."""
    query = busy.calendar.all().only("subject")
    query.page_size = 2_000
    found = list(query)
    assert len(found) == BUSY == len({item.id for item in found})


def test_unpaged_calendar_view_past_the_limit_is_refused(busy: Account) -> None:
    """A CalendarView without MaxEntriesReturned over more than 1,000 items is refused with
    ErrorExceededFindCountLimit, as Exchange does (no page to loop over)."""
    end = START + timedelta(hours=BUSY)
    with pytest.raises(ews_errors.ErrorExceededFindCountLimit):
        list(busy.calendar.view(START, end).only("subject"))


def test_calendar_view_with_max_entries_is_truncated_not_paged(busy: Account) -> None:
    """With MaxEntriesReturned the first 1,000 come back (the rest only over a narrower
    range, which comes back whole)."""
    end = START + timedelta(hours=BUSY)
    view = busy.calendar.view(START, end, max_items=1_000).only("subject")
    assert [item.subject for item in view] == [f"Slot {number}" for number in range(1_000)]
    narrower = busy.calendar.view(end - timedelta(hours=600), end, max_items=1_000)
    assert len(list(narrower.only("subject"))) == 600


def test_restricted_search_pages_by_250(busy: Account) -> None:
    """A restricted search answers 250 at a time and pages on to every match."""
    query = busy.calendar.filter(subject__startswith="Slot ").only("subject")
    query.page_size = 1_000
    found = list(query)
    assert len(found) == BUSY == len({item.id for item in found})

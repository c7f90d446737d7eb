"""The EWS emulator answers exchangelib's calls outside the engine's own path as Exchange does.

Each case is one of the gaps exchangelib's own test suite found (issue 16); what Exchange
does is taken from Microsoft's EWS reference and from exchangelib's tests, which run
against real Exchange.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from exchangelib import (
    UTC,
    Account,
    CalendarItem,
    Contact,
    EWSDate,
    EWSDateTime,
    EWSTimeZone,
    FolderCollection,
    Q,
)
from exchangelib.errors import ErrorCalendarEndDateIsEarlierThanStartDate, ErrorInvalidOperation
from exchangelib.indexed_properties import PhysicalAddress
from exchangelib.items import Item
from exchangelib.properties import CalendarView
from exchangelib.recurrence import DailyPattern, Recurrence, WeeklyPattern

from tests.sandbox.peer import save_appointment

NINE = EWSDateTime(2026, 12, 7, 9, tzinfo=UTC)


def _subjects(items: object) -> list[str]:
    return [item.subject for item in items]  # type: ignore[attr-defined]


def test_a_restriction_on_categories_matches_any_of_the_values(alice: Account) -> None:
    """Categories are multi-valued: IsEqualTo matches an item holding the value among others."""
    save_appointment(alice, "blue only", NINE, categories=["Blue"])
    save_appointment(alice, "red and blue", NINE, categories=["Red", "Blue"])
    save_appointment(alice, "none", NINE)

    assert sorted(_subjects(alice.calendar.filter(categories__contains=["Blue"]))) == [
        "blue only",
        "red and blue",
    ]
    assert _subjects(alice.calendar.filter(categories__contains=["Red", "Blue"])) == [
        "red and blue"
    ]
    assert sorted(_subjects(alice.calendar.filter(~Q(categories__contains=["Red"])))) == [
        "blue only",
        "none",
    ]


def test_find_item_sorts_as_asked(alice: Account) -> None:
    """FindItem's SortOrder: ascending, descending, and a second key breaking ties."""
    for offset, subject in enumerate(("beta", "gamma", "alpha", "beta")):
        save_appointment(alice, subject, NINE + timedelta(hours=offset))

    ascending = alice.calendar.all().order_by("subject")
    assert _subjects(ascending) == ["alpha", "beta", "beta", "gamma"]
    descending = alice.calendar.all().order_by("-subject", "-start")
    assert [(item.subject, item.start.hour) for item in descending] == [
        ("gamma", 10),
        ("beta", 12),
        ("beta", 9),
        ("alpha", 11),
    ]


def test_calendar_view_boundaries(alice: Account) -> None:
    """Microsoft's CalendarView reference: items ending before StartDate and items starting
    on or after EndDate are left out, so an item ending exactly at StartDate is in."""
    save_appointment(alice, "nine to ten", NINE)
    save_appointment(alice, "eleven to noon", NINE + timedelta(hours=2))

    ten, eleven = NINE + timedelta(hours=1), NINE + timedelta(hours=2)
    assert _subjects(alice.calendar.view(start=ten, end=eleven)) == ["nine to ten"]
    assert _subjects(alice.calendar.view(start=NINE, end=eleven)) == ["nine to ten"]
    both = alice.calendar.view(start=NINE, end=eleven + timedelta(minutes=1))
    assert _subjects(both) == ["nine to ten", "eleven to noon"]
    assert _subjects(alice.calendar.view(start=NINE, end=eleven, max_items=1)) == ["nine to ten"]


def test_calendar_view_pages_through_occurrences_with_max_entries(alice: Account) -> None:
    """A CalendarView with MaxEntriesReturned returns the first occurrences in start order,
    counting the one that ends exactly where the view starts."""
    save_appointment(
        alice,
        "daily",
        NINE,
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=NINE.date(), number=5),
    )
    ten = NINE + timedelta(hours=1)
    view = alice.calendar.view(start=ten, end=NINE + timedelta(days=10), max_items=3)
    assert [item.start for item in view] == [NINE + timedelta(days=day) for day in range(3)]
    assert len(list(alice.calendar.view(start=ten, end=NINE + timedelta(days=10)))) == 5


def test_a_calendar_view_ending_before_it_starts_is_refused(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'EndDate must be greater than or equal to StartDate; otherwise an error is returned'
    (exchangelib checks this itself; its check is lifted to send such a view)."""
    monkeypatch.setattr(CalendarView, "clean", lambda self, version=None: None)
    with pytest.raises(ErrorCalendarEndDateIsEarlierThanStartDate):
        list(alice.calendar.view(start=NINE, end=NINE - timedelta(hours=1)))


def test_contact_postal_addresses_round_trip(alice: Account) -> None:
    """PhysicalAddresses are kept, read back by the indexed paths exchangelib asks for, and
    one address's field can be changed alone."""
    business = PhysicalAddress(
        label="Business", street="1 Main St", city="Springfield", zipcode="12345"
    )
    home = PhysicalAddress(label="Home", city="Shelbyville", country="US")
    contact = Contact(
        account=alice,
        folder=alice.contacts,
        display_name="Ann Lee",
        given_name="Ann",
        surname="Lee",
        physical_addresses=[business, home],
    )
    contact.save()

    fetched = alice.contacts.get(id=contact.id)
    by_label = {address.label: address for address in fetched.physical_addresses}
    assert (by_label["Business"].street, by_label["Business"].city) == ("1 Main St", "Springfield")
    assert by_label["Business"].zipcode == "12345"
    assert (by_label["Home"].city, by_label["Home"].country) == ("Shelbyville", "US")

    fetched.physical_addresses = [
        PhysicalAddress(label="Business", street="2 Side St", city="Springfield", zipcode="12345"),
        home,
    ]
    fetched.save(update_fields=["physical_addresses"])
    again = {a.label: a for a in alice.contacts.get(id=contact.id).physical_addresses}
    assert again["Business"].street == "2 Side St"
    assert again["Home"].city == "Shelbyville"


def test_subjects_are_cut_to_255_characters(
    alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exchange keeps at most 255 characters of a subject. exchangelib checks the length
    itself; other clients do not, so its check is lifted here to send a longer one."""
    monkeypatch.setattr(Item.get_field_by_fieldname("subject"), "max_length", 260)
    long_subject = "x" * 250 + "0123456789"
    item = CalendarItem(subject=long_subject, start=NINE, end=NINE + timedelta(hours=1))
    (created,) = alice.bulk_create(folder=alice.calendar, items=[item])
    assert alice.calendar.get(id=created.id).subject == long_subject[:255]


def test_an_all_day_item_covers_whole_days(alice: Account) -> None:
    """Exchange pushes an all-day item's start back and its end on to midnight in the item's
    own time zone (Microsoft: 'How to create all-day events by using EWS')."""
    berlin = EWSTimeZone("Europe/Berlin")
    start = EWSDateTime(2026, 12, 7, 14, 30, tzinfo=berlin)
    item = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="offsite",
        start=start,
        end=start + timedelta(hours=2),
        is_all_day=True,
    )
    item.save()

    fetched = alice.calendar.all().only("is_all_day", "start", "end").get(id=item.id)
    assert (fetched.start, fetched.end) == (EWSDate(2026, 12, 7), EWSDate(2026, 12, 7))
    raw = alice.calendar.view(start=NINE - timedelta(days=1), end=NINE + timedelta(days=2))
    (occurrence,) = list(raw)
    assert occurrence.start == EWSDate(2026, 12, 7)

    by_date = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="holiday",
        start=EWSDate(2026, 12, 24),
        end=EWSDate(2026, 12, 26),
        is_all_day=True,
    )
    by_date.save()
    fetched = alice.calendar.get(id=by_date.id)
    assert (fetched.start, fetched.end) == (EWSDate(2026, 12, 24), EWSDate(2026, 12, 26))


def test_a_recurrence_reads_back_as_it_was_saved(alice: Account) -> None:
    """The recurrence range's dates come back as xs:date values exchangelib parses."""
    recurrence = Recurrence(
        pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=NINE.date(), number=6
    )
    item = save_appointment(alice, "standup", NINE, recurrence=recurrence)
    fetched = alice.calendar.get(id=item.id)
    assert fetched.recurrence == recurrence
    assert fetched.recurrence.boundary.start == EWSDate(2026, 12, 7)


def test_find_folder_applies_its_restriction(alice: Account) -> None:
    """FindFolder with a Restriction: exact and prefixed names, case-sensitive or not."""
    top = FolderCollection(account=alice, folders=[alice.msg_folder_root])

    assert [f.name for f in top.find_folders(q=Q(name="Contacts"))] == ["Contacts"]
    assert [f.name for f in top.find_folders(q=Q(name__startswith="Cal"))] == ["Calendar"]
    assert list(top.find_folders(q=Q(name__startswith="cal"))) == []
    assert [f.name for f in top.find_folders(q=Q(name__istartswith="cal"))] == ["Calendar"]


def test_free_busy_is_refused_by_name(alice: Account) -> None:
    """exchangelib first asks for the request's time zone (GetServerTimeZones, answered for
    zones without daylight saving time); GetUserAvailability itself is not emulated and
    fails with a protocol error naming it, never with an empty answer."""
    start = EWSDateTime(2026, 12, 7, tzinfo=UTC)
    (utc,) = alice.protocol.get_timezones(timezones=[UTC], return_full_timezone_data=True)
    assert utc.periods[0].bias_in_minutes == 0
    with pytest.raises(ErrorInvalidOperation, match="operation GetUserAvailability"):
        list(
            alice.protocol.get_free_busy_info(
                accounts=[(alice, "Organizer", False)], start=start, end=start + timedelta(days=1)
            )
        )


def test_a_zone_with_daylight_saving_is_refused_by_name(alice: Account) -> None:
    """The emulator builds no daylight-saving transitions: it says so rather than answer a
    wrong offset."""
    with pytest.raises(ErrorInvalidOperation, match=r"W\. Europe Standard Time"):
        list(alice.protocol.get_timezones(timezones=[EWSTimeZone("Europe/Berlin")]))

"""Expanding a recurring master into its occurrences, for CalendarView."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from xml.etree import ElementTree as ET

from engine.sandbox.ews.items import UnsupportedError
from engine.sandbox.ews.xml import local, parse_date, parse_datetime, t

MAX_OCCURRENCES = 1000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEK_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}


def occurrences(
    master: ET.Element, window_start: datetime, window_end: datetime
) -> list[tuple[int, datetime, datetime]]:
    """(1-based index, start, end) of the occurrences in a CalendarView's window: ending at
    or after its start, starting before its end."""
    recurrence = master.find(t("Recurrence"))
    start_text, end_text = master.findtext(t("Start")), master.findtext(t("End"))
    if recurrence is None or not start_text or not end_text:
        return []
    first_start = parse_datetime(start_text)
    duration = parse_datetime(end_text) - first_start
    pattern, span = list(recurrence)
    dates = _dates(pattern, span)
    found = []
    for index, day in enumerate(dates, start=1):
        start = datetime.combine(day, first_start.timetz())
        if start >= window_end:
            break
        if start + duration >= window_start:
            found.append((index, start, start + duration))
    return found


def _dates(pattern: ET.Element, span: ET.Element) -> Iterator[date]:
    """The occurrence dates, honouring the range (end date, count, or none)."""
    start = parse_date(span.findtext(t("StartDate")) or "")
    end = parse_date(span.findtext(t("EndDate")) or "9999-12-30")
    limit = int(span.findtext(t("NumberOfOccurrences")) or MAX_OCCURRENCES)
    if local(span.tag) not in ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence"):
        raise UnsupportedError(f"the recurrence range {local(span.tag)}")
    for count, day in enumerate(_pattern_dates(pattern, start)):
        if day > end or count >= min(limit, MAX_OCCURRENCES):
            return
        yield day


def _pattern_dates(pattern: ET.Element, start: date) -> Iterator[date]:
    kind = local(pattern.tag)
    interval = int(pattern.findtext(t("Interval")) or 1)
    if kind == "DailyRecurrence":
        day = start
        while True:
            yield day
            day += timedelta(days=interval)
    elif kind == "WeeklyRecurrence":
        weekdays = {
            WEEKDAYS.index(name) for name in (pattern.findtext(t("DaysOfWeek")) or "").split()
        }
        week = start - timedelta(days=start.weekday())
        while True:
            for offset in sorted(weekdays):
                day = week + timedelta(days=offset)
                if day >= start:
                    yield day
            week += timedelta(weeks=interval)
    elif kind in (
        "AbsoluteMonthlyRecurrence",
        "RelativeMonthlyRecurrence",
        "AbsoluteYearlyRecurrence",
    ):
        yield from _monthly(kind, pattern, start, interval)
    else:
        raise UnsupportedError(f"the recurrence pattern {kind}")


def _monthly(kind: str, pattern: ET.Element, start: date, interval: int) -> Iterator[date]:
    year, month = start.year, start.month
    step = 12 if kind == "AbsoluteYearlyRecurrence" else interval
    if kind == "AbsoluteYearlyRecurrence":
        month = _month_number(pattern.findtext(t("Month")) or "")
        if date(year, month, 1) < date(start.year, start.month, 1):
            year += 1
    for _ in range(MAX_OCCURRENCES * 2):
        day = _day_in_month(kind, pattern, year, month)
        if day is not None and day >= start:
            yield day
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1


def _day_in_month(kind: str, pattern: ET.Element, year: int, month: int) -> date | None:
    last = calendar.monthrange(year, month)[1]
    if kind in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        number = int(pattern.findtext(t("DayOfMonth")) or 1)
        return date(year, month, number) if number <= last else None
    weekday = WEEKDAYS.index((pattern.findtext(t("DaysOfWeek")) or "Monday").split()[0])
    which = _WEEK_INDEX[pattern.findtext(t("DayOfWeekIndex")) or "First"]
    days = [d for d in range(1, last + 1) if date(year, month, d).weekday() == weekday]
    return date(year, month, days[which - 1 if which > 0 else -1])


def _month_number(name: str) -> int:
    return list(calendar.month_name).index(name)

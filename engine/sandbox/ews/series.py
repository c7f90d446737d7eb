"""A recurring series as Exchange keeps it: the master's pattern, and its exceptions.

An occurrence changed on its own (``UpdateItem`` of its id, Graph's ``PATCH``) becomes an
exception: a whole item kept on the master, as Exchange keeps it attached to the master; an
occurrence deleted on its own is remembered as deleted. Both live in one element of the
emulator's own namespace inside the stored master, never rendered: the master shows them
as ``ModifiedOccurrences`` and ``DeletedOccurrences``. Every occurrence keeps the start
the pattern gave it (``OriginalStart``; Graph's ``originalStart``), which is what names it
whatever it becomes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from engine.sandbox.ews.recurrence import occurrences
from engine.sandbox.ews.xml import format_datetime, parse_datetime, sub, t

EMULATOR = "urn:msext:emulator"
_EXCEPTIONS = f"{{{EMULATOR}}}Exceptions"
_MODIFIED = f"{{{EMULATOR}}}Modified"
_DELETED = f"{{{EMULATOR}}}Deleted"
_EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
_NOT_OCCURRENCE = ("Recurrence", "Start", "End", "OriginalStart", "UID")


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series, as it is now."""

    index: int
    start: datetime
    end: datetime
    original_start: datetime
    element: ET.Element
    """The occurrence as an item (``t:CalendarItem`` with ``OriginalStart``, no pattern)."""
    modified: bool

    @property
    def calendar_type(self) -> str:
        return "Exception" if self.modified else "Occurrence"


def is_private(child: ET.Element) -> bool:
    """An element the emulator keeps for itself (never part of a response)."""
    return child.tag.startswith(f"{{{EMULATOR}}}")


def instances(master: ET.Element, start: datetime, end: datetime) -> list[Occurrence]:
    """The occurrences in a CalendarView of [start, end) (one ending exactly at start is in),
    exceptions where they are now, deleted ones left out; by start."""
    changed = _exceptions(master)
    found = [
        _occurrence(master, index, begin, finish, begin, None)
        for index, begin, finish in occurrences(master, start, end)
        if index not in changed
    ]
    for index, element in changed.items():
        if element is None:
            continue
        begin, finish = _times(element)
        if begin < end and finish >= start:
            found.append(
                _occurrence(master, index, begin, finish, _original_start(master, index), element)
            )
    return sorted(found, key=lambda occurrence: (occurrence.start, occurrence.index))


def instance(master: ET.Element, index: int) -> Occurrence | None:
    """Occurrence ``index`` (1-based), or ``None`` when the series has none or it was deleted."""
    changed = _exceptions(master)
    if index in changed:
        element = changed[index]
        if element is None:
            return None
        begin, finish = _times(element)
        return _occurrence(master, index, begin, finish, _original_start(master, index), element)
    for number, begin, finish in occurrences(master, *_EVER):
        if number == index:
            return _occurrence(master, index, begin, finish, begin, None)
    return None


def with_exception(master: ET.Element, index: int, element: ET.Element | None) -> ET.Element:
    """A copy of the master where occurrence ``index`` is ``element`` (``None``: deleted)."""
    updated = copy.deepcopy(master)
    store = updated.find(_EXCEPTIONS)
    if store is None:
        store = sub(updated, _EXCEPTIONS)
    for old in [entry for entry in store if entry.get("Index") == str(index)]:
        store.remove(old)
    if element is None:
        sub(store, _DELETED, Index=index)
    else:
        entry = sub(store, _MODIFIED, Index=index)
        kept = copy.deepcopy(element)
        for name in ("OriginalStart", "UID"):
            for found in kept.findall(t(name)):
                kept.remove(found)
        entry.append(kept)
    return updated


def occurrence_lists(master: ET.Element, item_id_of: dict[int, str]) -> list[ET.Element]:
    """``ModifiedOccurrences`` and ``DeletedOccurrences`` as the master shows them."""
    changed = _exceptions(master)
    lists = []
    modified = [(index, element) for index, element in changed.items() if element is not None]
    if modified:
        container = ET.Element(t("ModifiedOccurrences"))
        for index, element in sorted(modified):
            entry = sub(container, t("Occurrence"))
            sub(entry, t("ItemId"), Id=item_id_of[index], ChangeKey="")
            for name in ("Start", "End"):
                sub(entry, t(name), element.findtext(t(name)))
            sub(entry, t("OriginalStart"), format_datetime(_original_start(master, index)))
        lists.append(container)
    deleted = sorted(index for index, element in changed.items() if element is None)
    if deleted:
        container = ET.Element(t("DeletedOccurrences"))
        for index in deleted:
            entry = sub(container, t("DeletedOccurrence"))
            sub(entry, t("Start"), format_datetime(_original_start(master, index)))
        lists.append(container)
    return lists


def changed_indexes(master: ET.Element) -> list[int]:
    return sorted(_exceptions(master))


def _exceptions(master: ET.Element) -> dict[int, ET.Element | None]:
    store = master.find(_EXCEPTIONS)
    if store is None:
        return {}
    return {
        int(entry.get("Index", "0")): entry[0] if entry.tag == _MODIFIED else None
        for entry in store
    }


def _original_start(master: ET.Element, index: int) -> datetime:
    for number, begin, _ in occurrences(master, *_EVER):
        if number == index:
            return begin
    raise ValueError(f"the series has no occurrence {index}")


def _occurrence(
    master: ET.Element,
    index: int,
    start: datetime,
    end: datetime,
    original_start: datetime,
    exception: ET.Element | None,
) -> Occurrence:
    if exception is not None:
        element = copy.deepcopy(exception)
        for name in ("Start", "End", "OriginalStart"):
            for found in element.findall(t(name)):
                element.remove(found)
    else:
        element = ET.Element(master.tag)
        for child in master:
            if not is_private(child) and child.tag not in {t(name) for name in _NOT_OCCURRENCE}:
                element.append(copy.deepcopy(child))
    uid = master.find(t("UID"))
    if uid is not None:
        element.append(copy.deepcopy(uid))
    sub(element, t("Start"), format_datetime(start))
    sub(element, t("End"), format_datetime(end))
    sub(element, t("OriginalStart"), format_datetime(original_start))
    return Occurrence(index, start, end, original_start, element, exception is not None)


def _times(element: ET.Element) -> tuple[datetime, datetime]:
    start, end = (parse_datetime(element.findtext(t(name)) or "") for name in ("Start", "End"))
    return start, end

"""Items as XML: what is stored, how a property path addresses it, how it is rendered back.

Items are kept as the element exchangelib sent (``t:CalendarItem``, ``t:Contact`` ...),
with datetimes normalised to UTC. Server-computed properties (ids, item class, times,
calendar item type) are added when an item is rendered for a response, restricted to the
shape the request asked for.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from engine.sandbox.ews.schema_order import ORDER
from engine.sandbox.ews.store import StoredItem, folder_id
from engine.sandbox.ews.xml import T, format_datetime, is_datetime, local, parse_datetime, sub, t

ITEM_CLASSES = {
    "CalendarItem": "IPM.Appointment",
    "Contact": "IPM.Contact",
    "Task": "IPM.Task",
    "Message": "IPM.Note",
    "Item": "IPM.Note",
}
FOLDER_FOR_TAG = {"CalendarItem": "calendar", "Contact": "contacts", "Task": "tasks"}
COMPUTED = (
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "DateTimeCreated",
    "LastModifiedTime",
    "DateTimeReceived",
    "Size",
    "IsRecurring",
    "CalendarItemType",
    "UID",
    "HasAttachments",
    "IsAllDayEvent",
    "Sensitivity",
    "ModifiedOccurrences",
    "DeletedOccurrences",
)
_SERVER_SET = frozenset(COMPUTED) - {"UID", "IsAllDayEvent", "Sensitivity"}
_TIMES = frozenset({"Start", "End", "StartDate", "DueDate", "ReminderDueBy", "CompleteDate"})


class UnsupportedError(Exception):
    """A request the emulator does not implement; the message names what."""


@dataclass(frozen=True)
class Path:
    """A property path: ``item:Subject``, an indexed entry, or an extended property."""

    kind: str
    uri: str = ""
    index: str = ""
    extended: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.uri.split(":", 1)[-1]

    @property
    def container(self) -> str:
        """An indexed path's container element: ``contacts:PhysicalAddress:City`` ->
        ``PhysicalAddresses``."""
        entry = self.name.split(":", 1)[0]
        return _INDEXED_CONTAINERS.get(entry, entry)

    @property
    def subfield(self) -> str | None:
        """The field inside an indexed entry (``City``), for entries with several."""
        parts = self.name.split(":", 1)
        return parts[1] if len(parts) == 2 else None

    @classmethod
    def parse(cls, element: ET.Element) -> Path:
        tag = local(element.tag)
        if tag == "FieldURI":
            return cls("field", element.get("FieldURI", ""))
        if tag == "IndexedFieldURI":
            return cls("indexed", element.get("FieldURI", ""), element.get("FieldIndex", ""))
        if tag == "ExtendedFieldURI":
            return cls("extended", extended=_extended_key(element))
        raise UnsupportedError(f"the property path {tag}")


@dataclass(frozen=True)
class Shape:
    base: str
    paths: tuple[Path, ...]

    @classmethod
    def parse(cls, element: ET.Element | None) -> Shape:
        if element is None:
            return cls("Default", ())
        base = element.findtext(t("BaseShape")) or "Default"
        if element.findtext(t("IncludeMimeContent")) in ("true", "1"):
            raise UnsupportedError("IncludeMimeContent (items have no MIME content here)")
        extra = element.find(t("AdditionalProperties"))
        paths = tuple(Path.parse(child) for child in extra) if extra is not None else ()
        return cls(base, paths)


def _extended_key(element: ET.Element) -> tuple[tuple[str, str], ...]:
    """What identifies an extended property; the type is not part of its identity."""
    keys = (
        "DistinguishedPropertySetId",
        "PropertySetId",
        "PropertyTag",
        "PropertyName",
        "PropertyId",
    )
    return tuple((key, element.get(key, "").lower()) for key in keys if element.get(key))


def extended_value(item: ET.Element, key: tuple[tuple[str, str], ...]) -> ET.Element | None:
    for prop in item.findall(t("ExtendedProperty")):
        uri = prop.find(t("ExtendedFieldURI"))
        if uri is not None and _extended_key(uri) == key:
            return prop
    return None


def extended_properties(item: ET.Element) -> dict[tuple[str, str], str]:
    """(property set id, property name) -> value, for test inspection."""
    found = {}
    for prop in item.findall(t("ExtendedProperty")):
        uri = prop.find(t("ExtendedFieldURI"))
        if uri is not None:
            key = (
                uri.get("PropertySetId", ""),
                uri.get("PropertyName", uri.get("PropertyTag", "")),
            )
            found[key] = prop.findtext(t("Value"), "")
    return found


_BOOLEAN_NAMES = frozenset(
    {"ReminderIsSet", "HasAttachments", "AllowNewTimeProposal", "MeetingRequestWasSent"}
)


SUBJECT_LIMIT = 255
"""Exchange keeps this many characters of a subject and drops the rest."""


def canonical(child: ET.Element) -> ET.Element:
    """Values as Exchange keeps and answers them: UTC times, xs:boolean as true/false,
    subjects cut to 255 characters, and a recurrence's range dates with a zone.

    exchangelib writes booleans as 1/0 but reads back only true/false; it reads a range date
    as a date only when it carries a zone (``2026-12-07Z``), as Exchange sends it.
    """
    name = local(child.tag)
    if name in _TIMES and is_datetime(child.text):
        child.text = format_datetime(parse_datetime(child.text or ""))
    elif (name.startswith("Is") or name in _BOOLEAN_NAMES) and child.text in ("0", "1"):
        child.text = "true" if child.text == "1" else "false"
    elif name == "Subject" and child.text:
        child.text = child.text[:SUBJECT_LIMIT]
    elif name == "Recurrence":
        for boundary in (
            *child.iterfind(f"*/{t('StartDate')}"),
            *child.iterfind(f"*/{t('EndDate')}"),
        ):
            text = (boundary.text or "").strip()
            boundary.text = text + "Z" if len(text) == len("2026-12-07") else text
    return child


def whole_days(item: ET.Element) -> ET.Element:
    """An all-day item's start pushed back, and its end on, to midnight in the item's own
    start and end time zones, as Exchange does on every save (Microsoft: "How to create
    all-day events by using EWS")."""
    if item.findtext(t("IsAllDayEvent")) != "true":
        return item
    start_zone = _zone(item, "StartTimeZone")
    end_zone = _zone(item, "EndTimeZone") if item.find(t("EndTimeZone")) is not None else start_zone
    start, end = item.find(t("Start")), item.find(t("End"))
    if start is not None and is_datetime(start.text):
        day = parse_datetime(start.text or "").astimezone(start_zone).date()
        start.text = format_datetime(datetime.combine(day, time(), start_zone))
    if end is not None and is_datetime(end.text):
        moment = parse_datetime(end.text or "").astimezone(end_zone)
        midnight = datetime.combine(moment.date(), time(), end_zone)
        if midnight < moment:
            midnight = datetime.combine(moment.date() + timedelta(days=1), time(), end_zone)
        end.text = format_datetime(midnight)
    return item


def _zone(item: ET.Element, name: str) -> ZoneInfo:
    """A StartTimeZone/EndTimeZone by its Windows id (UTC when the item has none)."""
    element = item.find(t(name))
    if element is None:
        return ZoneInfo("UTC")
    windows_id = element.get("Id", "")
    iana = MS_TIMEZONE_TO_IANA_MAP.get(windows_id)
    if iana is None:
        raise UnsupportedError(f"the time zone {windows_id!r}")
    return ZoneInfo(iana)


def normalise(element: ET.Element) -> ET.Element:
    """A new item as the store keeps it: no server-set fields, canonical values, a UID."""
    item = copy.deepcopy(element)
    for child in list(item):
        if local(child.tag) in _SERVER_SET:
            item.remove(child)
        else:
            canonical(child)
    if local(item.tag) == "CalendarItem" and item.find(t("UID")) is None:
        sub(item, t("UID"), str(uuid.uuid4()).upper())
    return whole_days(item)


def value_of(item: ET.Element, path: Path) -> ET.Element | None:
    """The element holding a path's value in a stored item (``None`` if unset)."""
    if path.kind == "extended":
        return extended_value(item, path.extended)
    if path.kind == "indexed":
        entry = _entry(item, path)
        if entry is None or path.subfield is None:
            return entry
        return entry.find(t(path.subfield))
    return item.find(t(path.name))


def _entry(item: ET.Element, path: Path, create: bool = False) -> ET.Element | None:
    """The indexed entry a path addresses (``Entry Key="Business"``), made if asked."""
    container = item.find(t(path.container))
    if container is None and create:
        container = sub(item, t(path.container))
    if container is None:
        return None
    for entry in container:
        if entry.get("Key") == path.index:
            return entry
    return sub(container, t("Entry"), Key=path.index) if create else None


_INDEXED_CONTAINERS = {
    "EmailAddress": "EmailAddresses",
    "PhoneNumber": "PhoneNumbers",
    "PhysicalAddress": "PhysicalAddresses",
    "ImAddress": "ImAddresses",
}
_ADDRESS_ORDER = ("Street", "City", "State", "CountryOrRegion", "PostalCode")
"""``t:PhysicalAddressDictionaryEntryType``'s sequence."""


def set_value(item: ET.Element, path: Path, source: ET.Element) -> None:
    """SetItemField: take the path's value from ``source`` (an item element) into ``item``."""
    if path.kind == "extended":
        new = extended_value(source, path.extended)
        old = extended_value(item, path.extended)
        if new is None:
            raise UnsupportedError("a SetItemField without the extended property's value")
        if old is not None:
            item.remove(old)
        item.append(copy.deepcopy(new))
        return
    new = value_of(source, path) if path.kind == "indexed" else source.find(t(path.name))
    if new is None:
        raise UnsupportedError(f"a SetItemField of {path.uri} whose item lacks its value")
    if path.kind == "indexed" and path.subfield is not None:
        entry = _entry(item, path, create=True)
        assert entry is not None
        for old in entry.findall(t(path.subfield)):
            entry.remove(old)
        entry.append(copy.deepcopy(new))
        entry[:] = sorted(entry, key=lambda child: _ADDRESS_ORDER.index(local(child.tag)))
        return
    delete_value(item, path)
    if path.kind == "indexed":
        container = item.find(t(path.container))
        if container is None:
            container = sub(item, t(path.container))
        container.append(copy.deepcopy(new))
        return
    item.append(canonical(copy.deepcopy(new)))


def delete_value(item: ET.Element, path: Path) -> None:
    """DeleteItemField; an indexed entry or container left empty goes too."""
    found = value_of(item, path)
    if found is None:
        return
    if path.kind != "indexed":
        item.remove(found)
        return
    container = item.find(t(path.container))
    entry = _entry(item, path)
    assert container is not None and entry is not None
    if path.subfield is not None:
        entry.remove(found)
    if path.subfield is None or not len(entry):
        container.remove(entry)
    if not len(container):
        item.remove(container)


def occurrence_id(master_id: str, index: int) -> str:
    return base64.b64encode(f"O|{master_id}|{index}".encode()).decode()


def parse_occurrence_id(value: str) -> tuple[str, int] | None:
    try:
        kind, master, index = base64.b64decode(value, validate=True).decode().split("|")
        return (master, int(index)) if kind == "O" else None
    except ValueError:
        return None


def computed(stored: StoredItem, name: str, calendar_type: str | None = None) -> ET.Element | None:
    """A server-set property of a stored item."""
    item = stored.element
    element = ET.Element(t(name))
    match name:
        case "ItemId":
            element.set("Id", stored.item_id)
            element.set("ChangeKey", stored.change_key)
        case "ParentFolderId":
            element.set("Id", folder_id(stored.mailbox, stored.folder))
            element.set("ChangeKey", "AQAAAA==")
        case "ItemClass":
            element.text = item.findtext(t("ItemClass")) or ITEM_CLASSES.get(local(item.tag), "IPM")
        case "DateTimeCreated" | "DateTimeReceived":
            element.text = stored.created
        case "LastModifiedTime":
            element.text = stored.modified
        case "Size":
            element.text = str(len(ET.tostring(item)))
        case "HasAttachments":
            element.text = "false"
        case "IsRecurring" if local(item.tag) == "CalendarItem":
            element.text = "true" if calendar_type in ("RecurringMaster", "Occurrence") else "false"
        case "CalendarItemType" if local(item.tag) == "CalendarItem":
            element.text = calendar_type or calendar_type_of(item)
        case "ModifiedOccurrences" | "DeletedOccurrences" if calendar_type is None:
            return _occurrence_list(stored, name)
        case _:
            return None
    return element


def _occurrence_list(stored: StoredItem, name: str) -> ET.Element | None:
    """A master's changed or deleted occurrences (``None`` when it has none)."""
    from engine.sandbox.ews import series  # series needs this module's UnsupportedError

    item = stored.element
    ids = {index: occurrence_id(stored.item_id, index) for index in series.changed_indexes(item)}
    return next(
        (found for found in series.occurrence_lists(item, ids) if local(found.tag) == name), None
    )


def calendar_type_of(item: ET.Element) -> str:
    return "RecurringMaster" if item.find(t("Recurrence")) is not None else "Single"


_DEFAULTS = {"Sensitivity": "Normal", "IsAllDayEvent": "false"}
_ZONES = ("StartTimeZone", "EndTimeZone")


def render(
    stored: StoredItem,
    shape: Shape,
    element: ET.Element | None = None,
    calendar_type: str | None = None,
) -> ET.Element:
    """The item as a response shows it: ids always, then what the shape asks for."""
    item = element if element is not None else stored.element
    out = ET.Element(item.tag)
    for name in ("ItemId", "ParentFolderId"):
        value = computed(stored, name, calendar_type)
        if value is not None and (name == "ItemId" or shape.base != "IdOnly"):
            out.append(value)
    full = shape.base in ("Default", "AllProperties")
    if full:
        for child in item:
            if local(child.tag) != "ExtendedProperty" and child.tag.startswith(f"{{{T}}}"):
                out.append(copy.deepcopy(child))
        for name in COMPUTED[2:]:
            if item.find(t(name)) is None:
                value = _computed_or_default(stored, name, calendar_type)
                if value is not None:
                    out.append(value)
    for path in shape.paths:
        if full and path.kind != "extended":
            continue
        if path.kind == "field" and path.name == "ItemId":
            continue
        value = value_of(item, path)
        if value is None and path.kind == "field":
            value = _computed_or_default(stored, path.name, calendar_type)
        if value is None or (path.kind == "field" and out.find(value.tag) is not None):
            continue
        if path.kind == "indexed":
            set_value(out, path, item)
        else:
            out.append(copy.deepcopy(value))
    return in_schema_order(out)


def in_schema_order(item: ET.Element) -> ET.Element:
    """The item with its children sorted as the schema orders them (stable: repeated
    elements such as ExtendedProperty keep their order; unknown ones go last)."""
    order = ORDER.get(local(item.tag), ())
    position = {name: index for index, name in enumerate(order)}
    children = sorted(item, key=lambda child: position.get(local(child.tag), len(order)))
    item[:] = children
    return item


def _computed_or_default(
    stored: StoredItem, name: str, calendar_type: str | None
) -> ET.Element | None:
    # Elements without children are falsy: compare with None, never use ``or``.
    value = computed(stored, name, calendar_type)
    return value if value is not None else _default(name)


def _default(name: str) -> ET.Element | None:
    if name in _ZONES:
        # An item written without its zone was written in UTC (as Exchange keeps it).
        return ET.Element(t(name), Id="UTC")
    if name not in _DEFAULTS:
        return None
    element = ET.Element(t(name))
    element.text = _DEFAULTS[name]
    return element


def text_of(item: ET.Element, name: str) -> str | None:
    return item.findtext(f"{{{T}}}{name}")

"""Calendar items as Graph events, and Graph's event writes as the XML exchangelib writes.

A stored ``t:CalendarItem`` is a single event or a series master; its occurrences are
computed (as EWS's CalendarView does) and carry the master's fields.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, time
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from engine.exchange.mailbox.html_text import html_to_text
from engine.sandbox.ews.items import normalise
from engine.sandbox.ews.series import Occurrence, instances
from engine.sandbox.ews.store import StoredItem
from engine.sandbox.ews.xml import format_datetime, parse_datetime, sub, t
from engine.sandbox.graph.errors import bad_request, not_implemented
from engine.sandbox.graph.extended import KEY, put_extended
from engine.sandbox.graph.fields import (
    check_properties,
    drop,
    graph_time,
    nested,
    parse_graph_time,
    put,
    put_body,
    put_text,
    string,
    strings,
)
from engine.sandbox.graph.ids import graph_occurrence_id, to_graph

ORDER = (
    "Subject",
    "Sensitivity",
    "Body",
    "Categories",
    "Importance",
    "ReminderIsSet",
    "ReminderMinutesBeforeStart",
    "ExtendedProperty",
    "Start",
    "End",
    "IsAllDayEvent",
    "LegacyFreeBusyStatus",
    "Location",
    "Recurrence",
    "StartTimeZone",
    "EndTimeZone",
)
SENSITIVITY = {
    "normal": "Normal",
    "personal": "Personal",
    "private": "Private",
    "confidential": "Confidential",
}
SHOW_AS = {
    "free": "Free",
    "tentative": "Tentative",
    "busy": "Busy",
    "oof": "OOF",
    "workingElsewhere": "WorkingElsewhere",
    "unknown": "NoData",
}
WRITABLE = frozenset(
    {
        "subject",
        "body",
        "start",
        "end",
        "isAllDay",
        "location",
        "categories",
        "sensitivity",
        "showAs",
        KEY,
    }
)
PROPERTIES = frozenset(
    {
        "id",
        "changeKey",
        "createdDateTime",
        "lastModifiedDateTime",
        "subject",
        "start",
        "end",
        "isAllDay",
        "location",
        "sensitivity",
        "categories",
        "showAs",
        "type",
        "seriesMasterId",
        "originalStart",
        "iCalUId",
        "body",
    }
)
"""What ``$select`` may name on an event."""
SUBJECT_LIMIT = 255
"""Exchange keeps the first 255 characters of a subject."""
_TIMING = ("Start", "End", "IsAllDayEvent")


def event_json(stored: StoredItem, occurrence: Occurrence | None = None) -> dict[str, Any]:
    """An event as delta and GET list it (without body: only ``$select=body`` asks for it).
    An occurrence names its series and the start the pattern gave it (``originalStart``)."""
    item = stored.element if occurrence is None else occurrence.element
    start, end = _times(item)
    event_id, kind, series, original = to_graph(stored.item_id), "singleInstance", None, None
    if occurrence is not None:
        series, kind = event_id, "exception" if occurrence.modified else "occurrence"
        event_id = graph_occurrence_id(stored.item_id, occurrence.index)
        original = occurrence.original_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif item.find(t("Recurrence")) is not None:
        kind = "seriesMaster"
    all_day = item.findtext(t("IsAllDayEvent")) == "true"
    if all_day:
        start, end = _floating(start, item, "Start"), _floating(end, item, "End")
    status = item.findtext(t("LegacyFreeBusyStatus"), "Busy")
    return {
        "@odata.etag": f'W/"{stored.change_key}"',
        "id": event_id,
        "changeKey": stored.change_key,
        "createdDateTime": stored.created,
        "lastModifiedDateTime": stored.modified,
        "subject": item.findtext(t("Subject"), ""),
        "start": graph_time(start),
        "end": graph_time(end),
        "isAllDay": all_day,
        "location": {"displayName": item.findtext(t("Location"), "")},
        "sensitivity": item.findtext(t("Sensitivity"), "Normal").lower(),
        "categories": [c.text or "" for c in item.iterfind(f"{t('Categories')}/{t('String')}")],
        "showAs": next((key for key, value in SHOW_AS.items() if value == status), "unknown"),
        "type": kind,
        "seriesMasterId": series,
        "originalStart": original,
        "iCalUId": item.findtext(t("UID")),
    }


def body_json(item: ET.Element, prefer_text: bool) -> dict[str, str]:
    """The body as Graph gives it: HTML unless ``Prefer: outlook.body-content-type="text"``,
    which Exchange answers with the text a reader sees (lines kept, entities decoded)."""
    body = item.find(t("Body"))
    content = (body.text or "") if body is not None else ""
    is_html = body is not None and body.get("BodyType") == "HTML"
    if prefer_text:
        return {"contentType": "text", "content": html_to_text(content) if is_html else content}
    if not is_html:
        content = f"<html><body>{html.escape(content)}</body></html>"
    return {"contentType": "html", "content": content}


def series_events(stored: StoredItem, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """A master's occurrences overlapping [start, end), as events."""
    return [event_json(stored, found) for found in instances(stored.element, start, end)]


def overlaps(item: ET.Element, start: datetime, end: datetime) -> bool:
    begin, finish = _times(item)
    return begin < end and finish > start


def _floating(moment: datetime, item: ET.Element, which: str) -> datetime:
    """An all-day event's boundary as Graph shows it: midnight of its day in the zone it was
    made in (its StartTimeZone or EndTimeZone), whatever zone the client asks for: all-day
    events float."""
    zone_id = item.find(t(f"{which}TimeZone"))
    name = zone_id.get("Id", "UTC") if zone_id is not None else "UTC"
    day = moment.astimezone(ZoneInfo(MS_TIMEZONE_TO_IANA_MAP.get(name, name))).date()
    return datetime.combine(day, time(0), UTC)


def _times(item: ET.Element) -> tuple[datetime, datetime]:
    start, end = (parse_datetime(item.findtext(t(name), "")) for name in ("Start", "End"))
    return start, end


def new_event(body: dict[str, Any]) -> ET.Element:
    if "start" not in body or "end" not in body:
        raise bad_request("An event needs a start and an end.")
    item = ET.Element(t("CalendarItem"))
    defaults = {"Sensitivity": "Normal", "IsAllDayEvent": "false", "LegacyFreeBusyStatus": "Busy"}
    for name, value in defaults.items():
        put(item, name, value, ORDER)
    apply_event(item, body)
    return normalise(item)


def apply_event(item: ET.Element, body: dict[str, Any]) -> None:
    """Write a POST's or PATCH's properties into a calendar item, in exchangelib's order."""
    check_properties(body, WRITABLE, "event")
    timed = {"start", "end", "isAllDay"} & set(body)
    before = [item.findtext(t(name)) for name in _TIMING]
    if "subject" in body:
        put_text(item, "Subject", (string(body, "subject") or "")[:SUBJECT_LIMIT], ORDER)
    if "body" in body:
        put_body(item, body["body"], ORDER)
    for key, name in (("start", "Start"), ("end", "End")):
        if key in body:
            put(item, name, format_datetime(parse_graph_time(body[key], key)), ORDER)
            put(item, f"{name}TimeZone", None, ORDER, Id="UTC")
    if "isAllDay" in body:
        if not isinstance(body["isAllDay"], bool):
            raise bad_request("The property 'isAllDay' must be true or false.")
        put(item, "IsAllDayEvent", "true" if body["isAllDay"] else "false", ORDER)
    if "location" in body:
        location = nested(body["location"], "location", frozenset({"displayName"}))
        put_text(item, "Location", string(location, "displayName"), ORDER)
    if "categories" in body:
        _put_categories(item, strings(body, "categories"))
    if "sensitivity" in body:
        put(item, "Sensitivity", _choice(body, "sensitivity", SENSITIVITY), ORDER)
    if "showAs" in body:
        put(item, "LegacyFreeBusyStatus", _choice(body, "showAs", SHOW_AS), ORDER)
    if KEY in body:
        put_extended(item, body[KEY], ORDER)
    if not timed:
        return
    if item.find(t("Recurrence")) is not None and before != [
        item.findtext(t(name)) for name in _TIMING
    ]:
        raise not_implemented("changing the start, end or isAllDay of a series master")
    _check_times(item)


def _put_categories(item: ET.Element, categories: list[str]) -> None:
    drop(item, "Categories")
    if categories:
        container = put(item, "Categories", None, ORDER)
        for category in categories:
            sub(container, t("String"), category)


def _choice(body: dict[str, Any], key: str, choices: dict[str, str]) -> str:
    value = string(body, key) or ""
    found = next((ews for graph, ews in choices.items() if graph.lower() == value.lower()), None)
    if found is None:
        raise bad_request(f"The {key} '{value}' is not one of {', '.join(choices)}.")
    return found


def _check_times(item: ET.Element) -> None:
    start, end = _times(item)
    if end < start:
        raise bad_request("The event's end is before its start.")
    if item.findtext(t("IsAllDayEvent")) == "true" and (
        start.time() != datetime.min.time() or end.time() != datetime.min.time() or end == start
    ):
        raise bad_request("An all-day event starts and ends at midnight, at least a day apart.")

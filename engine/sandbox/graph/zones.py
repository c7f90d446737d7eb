"""``Prefer: outlook.timezone``: the dateTimeTimeZone values of an answer in the zone the
client names (a Windows zone name, as Outlook's, or an IANA one), as Graph gives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from engine.sandbox.graph.errors import not_implemented
from engine.sandbox.graph.fields import graph_time
from engine.sandbox.graph.request import Reply, Request

PREFERENCE = "outlook.timezone"
Zone = tuple[str, ZoneInfo]
"""The name the client gave, and the zone it names."""


def preferred_zone(request: Request) -> Zone | None:
    """The zone a request prefers; a name the emulator cannot resolve is a 501 naming it
    (asked before the route runs, so that a write is not made and then refused)."""
    name = request.prefer(PREFERENCE)
    if not name:
        return None
    try:
        return name, ZoneInfo(MS_TIMEZONE_TO_IANA_MAP.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise not_implemented(f"the time zone '{name}' in Prefer: {PREFERENCE}") from None


def in_zone(reply: Reply, zone: Zone) -> Reply:
    """The reply with its times in ``zone``, saying so in ``Preference-Applied``."""
    applied = f'{PREFERENCE}="{zone[0]}"'
    earlier = reply.headers.get("Preference-Applied")
    preferences = f"{earlier}, {applied}" if earlier else applied
    headers = {**reply.headers, "Preference-Applied": preferences}
    return Reply(reply.status, _converted(reply.body, zone), headers)


def _converted(value: Any, zone: Zone) -> Any:
    if isinstance(value, list):
        return [_converted(entry, zone) for entry in value]
    if not isinstance(value, dict):
        return value
    if value.get("timeZone") == "UTC" and isinstance(value.get("dateTime"), str):
        return {**value, **graph_time(_utc(value["dateTime"]), *zone)}
    floating = ("start", "end") if value.get("isAllDay") is True else ()
    return {
        key: entry if key in floating else _converted(entry, zone) for key, entry in value.items()
    }


def _utc(text: str) -> datetime:
    """A dateTime in UTC as the emulator writes it (seven fractional digits)."""
    whole, _, fraction = text.partition(".")
    microseconds = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime.fromisoformat(whole).replace(tzinfo=UTC) + timedelta(microseconds=microseconds)

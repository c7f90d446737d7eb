"""Graph's event and contact JSON: what the engine writes, and what a pull may know of them.

The same rules as the EWS adapter: a private event keeps only its times (R05), contacts are
written but never read back beyond what tells a person's edit from ours (R07).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from engine.exchange.mailbox.base import (
    STAMP_PROPERTY_NAME,
    STAMP_PROPERTY_SET,
    CalendarContent,
    ContactContent,
    Content,
    FolderKind,
    MailboxError,
    MailboxItem,
    calendar_digest,
    contact_digest,
    parse_stamp,
)

STAMP_PROPERTY = f"String {{{STAMP_PROPERTY_SET}}} Name {STAMP_PROPERTY_NAME}"
"""The PSA stamp as a single-value extended property id (the same MAPI property as EWS's)."""
PRIVATE = frozenset({"private", "confidential"})
COLLECTIONS = {FolderKind.CALENDAR: "events", FolderKind.CONTACTS: "contacts"}
CONTACT_FIELDS = "givenName,surname,companyName,emailAddresses,businessPhones,jobTitle"
_SERIES_MEMBERS = frozenset({"occurrence", "exception"})
ALL_DAY_END = timedelta(days=1)
"""The engine ends an all-day item on its last day (exchangelib's convention, kept since the
EWS adapter came first); Graph ends it at the following midnight."""


def collection(folder: FolderKind) -> str:
    """The Graph collection holding a folder's items."""
    if folder not in COLLECTIONS:
        raise MailboxError(
            "the Tasks folder is reached through EWS only: put to-dos in the calendar"
            " (Synchronization tab) to sync them through Microsoft Graph"
        )
    return COLLECTIONS[folder]


def item_json(content: Content, stamp: str | None = None) -> dict[str, Any]:
    """The JSON body that creates (with ``stamp``) or updates an item holding ``content``."""
    body = _contact(content) if isinstance(content, ContactContent) else _event(content)
    if stamp:
        body["singleValueExtendedProperties"] = [{"id": STAMP_PROPERTY, "value": stamp}]
    return body


def _event(content: CalendarContent) -> dict[str, Any]:
    start, end = content.start, content.end
    if content.all_day:
        start, end = _midnight(start), _midnight(end) + ALL_DAY_END
    return {
        "subject": content.subject,
        "body": {"contentType": "text", "content": content.body},
        "start": when(start),
        "end": when(end),
        "isAllDay": content.all_day,
        "location": {"displayName": content.location or ""},
        "categories": list(content.categories),
        "showAs": "busy",
    }


def _contact(content: ContactContent) -> dict[str, Any]:
    display_name = f"{content.given_name} {content.surname}".strip()
    return {
        "givenName": content.given_name,
        "surname": content.surname,
        "displayName": display_name,
        "companyName": content.company,
        "emailAddresses": (
            [{"address": content.email, "name": display_name}] if content.email else []
        ),
        "businessPhones": [content.phone] if content.phone else [],
        "jobTitle": content.job_title,
        "personalNotes": content.body,
    }


def when(moment: datetime) -> dict[str, str]:
    """A Graph dateTimeTimeZone in UTC."""
    return {"dateTime": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(0), UTC)


def parse_when(value: dict[str, Any] | None) -> datetime | None:
    """A dateTimeTimeZone read with ``Prefer: outlook.timezone="UTC"`` (whole seconds)."""
    if not value or not value.get("dateTime"):
        return None
    zone = value.get("timeZone", "UTC")
    if zone != "UTC":
        raise MailboxError(f"Microsoft Graph answered a time in {zone} instead of UTC")
    return datetime.fromisoformat(str(value["dateTime"])[:19]).replace(tzinfo=UTC)


def _offset(value: Any) -> datetime | None:
    """A DateTimeOffset (``originalStart``) as an aware UTC datetime."""
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def stamp_of(item: dict[str, Any]) -> str | None:
    for prop in item.get("singleValueExtendedProperties") or ():
        if str(prop.get("id", "")).lower() == STAMP_PROPERTY.lower():
            return str(prop.get("value") or "") or None
    return None


def is_series_member(event: dict[str, Any]) -> bool:
    """An occurrence or exception of a series: never written by the engine, never stamped."""
    return event.get("type") in _SERIES_MEMBERS


def to_mailbox_item(folder: FolderKind, entry: dict[str, Any], stamp: str | None) -> MailboxItem:
    """What reconcile may know of a pulled item: a private event loses all but its times.
    ``stamp`` is the stamp property's value."""
    stamp, owner = parse_stamp(stamp)
    if folder is FolderKind.CONTACTS:
        emails = entry.get("emailAddresses") or []
        phones = entry.get("businessPhones") or []
        return MailboxItem(
            item_id=entry["id"],
            change_key=entry.get("changeKey", ""),
            folder=folder,
            stamp=stamp,
            owner=owner,
            is_appointment=False,
            digest=contact_digest(
                entry.get("givenName"),
                entry.get("surname"),
                entry.get("companyName"),
                emails[0].get("address") if emails else None,
                phones[0] if phones else None,
                entry.get("jobTitle"),
            ),
        )
    private = entry.get("sensitivity") in PRIVATE
    start, end = parse_when(entry.get("start")), parse_when(entry.get("end"))
    all_day = bool(entry.get("isAllDay"))
    if all_day and end is not None:
        end -= ALL_DAY_END
    location = (entry.get("location") or {}).get("displayName") or None
    subject = entry.get("subject")
    return MailboxItem(
        item_id=entry["id"],
        change_key=entry.get("changeKey", ""),
        folder=folder,
        stamp=stamp,
        owner=owner,
        is_appointment=True,
        subject=None if private else subject,
        location=None if private else location,
        start=start,
        end=end,
        all_day=all_day,
        private=private,
        master_id=entry.get("seriesMasterId") if is_series_member(entry) else None,
        original_start=_offset(entry.get("originalStart")) if is_series_member(entry) else None,
        digest=calendar_digest(
            subject, start, end, all_day, location, tuple(entry.get("categories") or ())
        ),
    )

"""calendarView/delta and contacts/delta: rounds over the store's change log, in pages.

A token is opaque to the client and holds where a round stands: the mailbox and folder,
the window (and ``$select``), the change-log position the round reports from (none in a
first round), the head it reports up to, and inside a round the next page's cursor. The
cursor names a unit (an item; in later rounds a change) and an offset in its entries, so
a change while the client pages never makes a page skip anything: what changed after the
head is reported again in the next round.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from engine.sandbox.ews.store import Store, StoredItem
from engine.sandbox.ews.xml import format_datetime, local, parse_datetime, t
from engine.sandbox.graph import contacts, events
from engine.sandbox.graph.errors import GraphError, bad_request, sync_state_expired
from engine.sandbox.graph.ids import to_graph
from engine.sandbox.graph.request import Call, Reply, restrict, selected

DEFAULT_PAGE_SIZE = 100
CALENDAR_REFUSED = ("$select", "$expand", "$filter", "$orderby", "$top")
CONTACTS_REFUSED = ("$expand", "$filter", "$orderby")
Entry = dict[str, Any]
Unit = tuple[str, Callable[[], list[Entry]]]
"""A sort key and what the unit contributes to the round."""


@dataclass(frozen=True)
class Position:
    mailbox: str
    folder: str
    window: tuple[str, str] | None
    since: int | None
    head: int
    cursor: tuple[str, int] | None = None
    select: tuple[str, ...] | None = None


def encode(position: Position, kind: str) -> str:
    data = json.dumps({"k": kind, **asdict(position)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode(token: str, kind: str, mailbox: str, folder: str) -> Position:
    """A token of this kind, mailbox and folder (400 otherwise)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        found = data["k"]
        position = Position(
            data["mailbox"],
            data["folder"],
            (data["window"][0], data["window"][1]) if data["window"] else None,
            int(data["since"]) if data["since"] is not None else None,
            int(data["head"]),
            (data["cursor"][0], int(data["cursor"][1])) if data["cursor"] else None,
            tuple(data["select"]) if data["select"] is not None else None,
        )
    except (ValueError, TypeError, KeyError, IndexError):
        raise bad_request("The delta or skip token is malformed.") from None
    if (found, position.mailbox, position.folder) != (kind, mailbox, folder):
        raise bad_request("The token was issued for another mailbox, folder or link.")
    return position


def calendar_delta(call: Call) -> Reply:
    call.request.options(
        ("startDateTime", "endDateTime", "$skiptoken", "$deltatoken"),
        CALENDAR_REFUSED,
        "calendarView",
    )
    position = _position(call, "calendar", _window(call), None)
    assert position.window is not None
    start, end = (parse_datetime(moment) for moment in position.window)
    store = call.state.store
    if position.since is None:
        units: Iterable[Unit] = (
            (stored.item_id, partial(_first_events, stored, start, end))
            for stored in sorted(store.items(call.mailbox, "calendar"), key=lambda s: s.item_id)
            if local(stored.element.tag) == "CalendarItem"
        )
    else:
        units = (
            (key, partial(_changed_event, store, position, item_id, start, end))
            for key, item_id in _changed(store, position)
        )
    return _round(call, position, units, "calendarView/delta", "event")


def contacts_delta(call: Call) -> Reply:
    call.request.options(("$select", "$skiptoken", "$deltatoken"), CONTACTS_REFUSED, "contacts")
    names = selected(call.request.query.get("$select"), contacts.PROPERTIES)
    position = _position(call, "contacts", None, tuple(sorted(names)) if names else None)
    store = call.state.store
    wanted = frozenset(position.select) if position.select is not None else None
    if position.since is None:
        units: Iterable[Unit] = (
            (stored.item_id, partial(_first_contact, stored, wanted))
            for stored in sorted(store.items(call.mailbox, "contacts"), key=lambda s: s.item_id)
            if local(stored.element.tag) == "Contact"
        )
    else:
        units = (
            (key, partial(_changed_contact, store, position, item_id, wanted))
            for key, item_id in _changed(store, position)
        )
    return _round(call, position, units, "contacts/delta", "contact")


def _window(call: Call) -> tuple[str, str] | None:
    query = call.request.query
    if "$skiptoken" in query or "$deltatoken" in query:
        return None
    if not query.get("startDateTime") or not query.get("endDateTime"):
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters"
            " StartDateTime and EndDateTime.",
        )
    try:
        start, end = (parse_datetime(query[name]) for name in ("startDateTime", "endDateTime"))
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", "startDateTime and endDateTime must be ISO 8601."
        ) from None
    return format_datetime(start), format_datetime(end)


def _position(
    call: Call, folder: str, window: tuple[str, str] | None, select: tuple[str, ...] | None
) -> Position:
    query, store = call.request.query, call.state.store
    if "$skiptoken" in query:
        return decode(query["$skiptoken"], "skip", call.mailbox, folder)
    if "$deltatoken" in query:
        if call.state.draw_expiry():
            raise sync_state_expired()
        last = decode(query["$deltatoken"], "delta", call.mailbox, folder)
        return replace(last, since=last.head, head=store.head(call.mailbox, folder))
    return Position(
        call.mailbox, folder, window, None, store.head(call.mailbox, folder), None, select
    )


def _changed(store: Store, position: Position) -> list[tuple[str, str]]:
    """(key, item id) of each item changed in the round's part of the log, by last change."""
    last: dict[str, int] = {}
    for seq, item_id, _ in store.changes_since(
        position.mailbox, position.folder, position.since or 0
    ):
        if seq <= position.head:
            last[item_id] = seq
    return [(f"{seq:012d}", item_id) for item_id, seq in sorted(last.items(), key=lambda e: e[1])]


def _removed(item_id: str) -> Entry:
    return {"id": to_graph(item_id), "@removed": {"reason": "deleted"}}


def _first_contact(stored: StoredItem, wanted: frozenset[str] | None) -> list[Entry]:
    return [restrict(contacts.contact_json(stored), wanted)]


def _first_events(stored: StoredItem, start: datetime, end: datetime) -> list[Entry]:
    if stored.element.find(t("Recurrence")) is not None:
        return events.series_events(stored, start, end)
    return [events.event_json(stored)] if events.overlaps(stored.element, start, end) else []


def _changed_event(
    store: Store, position: Position, item_id: str, start: datetime, end: datetime
) -> list[Entry]:
    """The event; its removal when gone or outside; a series' removal, then its occurrences."""
    stored = store.get(item_id)
    if stored is None or (stored.mailbox, stored.folder) != (position.mailbox, position.folder):
        return [_removed(item_id)]
    if stored.element.find(t("Recurrence")) is not None:
        return [_removed(item_id), *events.series_events(stored, start, end)]
    if events.overlaps(stored.element, start, end):
        return [events.event_json(stored)]
    return [_removed(item_id)]


def _changed_contact(
    store: Store, position: Position, item_id: str, wanted: frozenset[str] | None
) -> list[Entry]:
    stored = store.get(item_id)
    if stored is None or (stored.mailbox, stored.folder) != (position.mailbox, position.folder):
        return [_removed(item_id)]
    return [restrict(contacts.contact_json(stored), wanted)]


def _page(
    units: Iterable[Unit], cursor: tuple[str, int] | None, size: int
) -> tuple[list[Entry], tuple[str, int] | None]:
    """Up to ``size`` entries from the cursor on, and the next page's cursor (None at the end)."""
    entries: list[Entry] = []
    for key, produce in units:
        if cursor is not None and key < cursor[0]:
            continue
        skip = cursor[1] if cursor is not None and key == cursor[0] else 0
        for offset, entry in enumerate(produce()[skip:], start=skip):
            if len(entries) == size:
                return entries, (key, offset)
            entries.append(entry)
    return entries, None


def _round(call: Call, position: Position, units: Iterable[Unit], path: str, entity: str) -> Reply:
    wanted = call.request.prefer("odata.maxpagesize")
    size = int(wanted) if wanted and wanted.isdigit() and int(wanted) > 0 else DEFAULT_PAGE_SIZE
    entries, cursor = _page(units, position.cursor, size)
    link = f"{call.state.url}/users/{quote(call.mailbox, safe='@.')}/{path}"
    answer: dict[str, Any] = {
        "@odata.context": f"{call.state.url}/$metadata#Collection({entity})",
        "value": entries,
    }
    if cursor is not None:
        token = encode(replace(position, cursor=cursor), "skip")
        answer["@odata.nextLink"] = f"{link}?$skiptoken={token}"
    else:
        following = replace(position, since=position.head, cursor=None)
        answer["@odata.deltaLink"] = f"{link}?$deltatoken={encode(following, 'delta')}"
    headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if wanted else {}
    return Reply(200, answer, headers)

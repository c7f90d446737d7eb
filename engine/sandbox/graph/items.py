"""The item routes: the calendar folder, events and contacts (GET, POST, PATCH, DELETE),
and sendMail. Every write goes through the store, so the EWS front's change log sees it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

from engine.sandbox.ews import series
from engine.sandbox.ews.items import normalise
from engine.sandbox.ews.series import Occurrence
from engine.sandbox.ews.store import StoredItem, folder_id
from engine.sandbox.ews.xml import local
from engine.sandbox.graph import contacts, events, mail
from engine.sandbox.graph.errors import bad_request, item_not_found, stale_etag
from engine.sandbox.graph.extended import KEY, expanded_ids, extended_json
from engine.sandbox.graph.fields import check_properties
from engine.sandbox.graph.ids import parse_graph_id, to_graph
from engine.sandbox.graph.request import Call, Reply, restrict, selected

_TEXT_BODY = 'outlook.body-content-type="text"'
_CALENDAR_PROPERTIES = frozenset({"id", "name"})
_SEND_MAIL_PARAMETERS = {"message": "message", "savetosentitems": "saveToSentItems"}
"""An action's parameter names are case-insensitive (the SDK sends ``Message``)."""


@dataclass(frozen=True)
class Kind:
    """What differs between events and contacts."""

    tag: str
    folder: str
    collection: str
    properties: frozenset[str]
    render: Callable[[StoredItem], dict[str, Any]]
    new: Callable[[dict[str, Any]], ET.Element]
    apply: Callable[[ET.Element, dict[str, Any]], None]


EVENT = Kind(
    "CalendarItem",
    "calendar",
    "events",
    events.PROPERTIES,
    events.event_json,
    events.new_event,
    events.apply_event,
)
CONTACT = Kind(
    "Contact",
    "contacts",
    "contacts",
    contacts.PROPERTIES,
    contacts.contact_json,
    contacts.new_contact,
    contacts.apply_contact,
)


def get_calendar(call: Call) -> Reply:
    call.request.options(("$select",))
    names = selected(call.request.query.get("$select"), _CALENDAR_PROPERTIES)
    calendar = {"id": to_graph(folder_id(call.mailbox, "calendar")), "name": "Calendar"}
    return Reply(200, {**_context(call, "calendar"), **restrict(calendar, names)})


def get_item(kind: Kind, call: Call) -> Reply:
    """An event or contact; an occurrence id answers from its master."""
    request = call.request
    request.options(("$select", "$expand"))
    names = selected(request.query.get("$select"), kind.properties)
    stored, occurrence = _load(call, kind)
    data = kind.render(stored) if occurrence is None else events.event_json(stored, occurrence)
    headers = {}
    if names is not None and "body" in names:
        text = request.prefer("outlook.body-content-type") == "text"
        source = stored.element if occurrence is None else occurrence.element
        data["body"] = events.body_json(source, text)
        headers = {"Preference-Applied": _TEXT_BODY} if text else {}
    data = restrict(data, names)
    if "$expand" in request.query:
        found = extended_json(stored.element, expanded_ids(request.query["$expand"]))
        if found:
            data[KEY] = found
    return Reply(200, {**_context(call, f"{kind.collection}/$entity"), **data}, headers)


def create_item(kind: Kind, call: Call) -> Reply:
    call.request.options(())
    element = kind.new(call.request.json_object())
    stored = call.state.store.create(call.mailbox, kind.folder, element)
    data = kind.render(stored)
    found = extended_json(stored.element, None)
    if found:
        data[KEY] = found
    return Reply(201, {**_context(call, f"{kind.collection}/$entity"), **data})


def update_item(kind: Kind, call: Call) -> Reply:
    """PATCH; one occurrence of a series patched becomes an exception kept on its master."""
    call.request.options(())
    stored, occurrence = _load(call, kind)
    _check_etag(call, stored)
    source = stored.element if occurrence is None else occurrence.element
    element = copy.deepcopy(source)
    kind.apply(element, call.request.json_object())
    if occurrence is None:
        updated = call.state.store.replace(stored, element)
        data = kind.render(updated)
    else:
        master = series.with_exception(stored.element, occurrence.index, element)
        updated = call.state.store.replace(stored, master)
        now = series.instance(updated.element, occurrence.index)
        assert now is not None
        data = events.event_json(updated, now)
    return Reply(200, {**_context(call, f"{kind.collection}/$entity"), **data})


def delete_item(kind: Kind, call: Call) -> Reply:
    """Moves the item to Deleted Items, as Graph's delete does; from there it is no longer
    one of the mailbox's events or contacts. One occurrence deleted is remembered on its
    master."""
    call.request.options(())
    stored, occurrence = _load(call, kind)
    _check_etag(call, stored)
    if occurrence is None:
        call.state.store.delete(stored, "deleteditems")
    else:
        call.state.store.replace(
            stored, series.with_exception(stored.element, occurrence.index, None)
        )
    return Reply(204)


def send_mail(call: Call) -> Reply:
    """Recorded as sent (``EwsEmulator.sent_messages``), with a copy in Sent Items."""
    call.request.options(())
    body = {
        _SEND_MAIL_PARAMETERS.get(name.lower(), name): value
        for name, value in call.request.json_object().items()
    }
    check_properties(body, frozenset(_SEND_MAIL_PARAMETERS.values()), "sendMail")
    element = mail.message_element(body.get("message"))
    save = body.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise bad_request("The property 'saveToSentItems' must be true or false.")
    store = call.state.store
    store.record_sent(call.mailbox, element)
    if save:
        store.create(call.mailbox, "sentitems", normalise(element))
    return Reply(202)


def _load(call: Call, kind: Kind) -> tuple[StoredItem, Occurrence | None]:
    """The stored item (a series' master for an occurrence id) and the occurrence."""
    item_id, index = parse_graph_id(call.item_id)
    stored = call.state.store.get(item_id)
    if (
        stored is None
        or (stored.mailbox, stored.folder) != (call.mailbox, kind.folder)
        or local(stored.element.tag) != kind.tag
    ):
        raise item_not_found()
    if index is None:
        return stored, None
    occurrence = series.instance(stored.element, index)
    if occurrence is None:
        raise item_not_found()
    return stored, occurrence


def _check_etag(call: Call, stored: StoredItem) -> None:
    given = call.request.headers.get("if-match", "*").strip()
    if given != "*" and given.removeprefix("W/").strip('"') != stored.change_key:
        raise stale_etag()


def _context(call: Call, path: str) -> dict[str, str]:
    return {"@odata.context": f"{call.state.url}/$metadata#users('{call.mailbox}')/{path}"}

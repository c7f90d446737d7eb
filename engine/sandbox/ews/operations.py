"""One handler per EWS operation: request element in, response element out.

Each handler reads the request as exchangelib writes it and answers in the schema's
shapes. Anything not implemented is an error that names it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from engine.sandbox.ews import items as item_xml
from engine.sandbox.ews import series, timezones
from engine.sandbox.ews.items import Path, Shape, UnsupportedError
from engine.sandbox.ews.notifications import Notifications, Routing
from engine.sandbox.ews.restrictions import RESTRICTED_FIND_COUNT_LIMIT, in_sort_order, matches
from engine.sandbox.ews.series import Occurrence
from engine.sandbox.ews.soap import (
    EwsError,
    SoapFaultError,
    error,
    response,
    success,
    sync_error,
)
from engine.sandbox.ews.store import FOLDERS, Store, StoredItem, folder_id, parse_folder_id
from engine.sandbox.ews.xml import format_datetime, local, m, parse_datetime, sub, t

FOLDER_ELEMENTS = {
    "calendar": "CalendarFolder",
    "contacts": "ContactsFolder",
    "tasks": "TasksFolder",
}
FOLDER_CLASSES = {"calendar": "IPF.Appointment", "contacts": "IPF.Contact", "tasks": "IPF.Task"}
FOLDER_NAMES = {
    "root": "Root",
    "msgfolderroot": "Top of Information Store",
    "calendar": "Calendar",
    "contacts": "Contacts",
    "tasks": "Tasks",
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "drafts": "Drafts",
}
SEND = ("SendOnly", "SendAndSaveCopy")
FIND_COUNT_LIMIT = 1000
"""Exchange's default EWSFindCountLimit: the most items one FindItem answers."""


@dataclass
class Context:
    """Who asks, for which mailbox, and what the emulator is configured to do."""

    store: Store
    principal: str
    """The authenticated account: the service account, or a mailbox owner."""
    is_service: bool
    target: str
    """The mailbox the request acts on (impersonated, or the principal's own)."""
    max_sync_changes: int | None
    max_find_items: int | None
    notifications: Notifications
    routing: Routing = field(default_factory=Routing)
    """The request's affinity headers (streaming notifications)."""
    reply_headers: list[tuple[str, str]] = field(default_factory=list)
    """HTTP headers the answer carries (the affinity cookie)."""

    def may_access(self, mailbox: str) -> bool:
        if mailbox == self.target:
            return True
        if self.is_service:
            found = self.store.mailbox(mailbox)
            return found is not None and found.granted and self.target == self.principal
        return False


Handler = Callable[[Context, ET.Element], list[ET.Element]]


def per_message(
    operation: str, ctx: Context, work: list[Callable[[], list[ET.Element]]]
) -> ET.Element:
    """Run each unit of a request; a failing unit becomes its own error message."""
    messages = []
    for unit in work:
        try:
            payload = unit()
        except EwsError as failure:
            messages.append(error(operation, failure))
            continue
        except UnsupportedError as missing:
            text = f"The msext EWS emulator does not implement {missing}."
            messages.append(error(operation, EwsError("ErrorInvalidOperation", text)))
            continue
        message = success(operation)
        message.extend(payload)
        messages.append(message)
    return response(operation, messages)


# -- folders ---------------------------------------------------------------------------------


def resolve_folder(ctx: Context, element: ET.Element) -> tuple[str, str]:
    """(mailbox, folder) of a DistinguishedFolderId or FolderId, with the access check."""
    if local(element.tag) == "DistinguishedFolderId":
        name = element.get("Id", "")
        address = (element.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") or ctx.target).lower()
        if name not in FOLDERS:
            raise EwsError("ErrorFolderNotFound", f"The msext EWS emulator has no folder {name!r}.")
    elif local(element.tag) == "FolderId":
        parsed = parse_folder_id(element.get("Id", ""))
        if parsed is None:
            raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
        address, name = parsed
    else:
        raise UnsupportedError(f"the folder id {local(element.tag)}")
    if ctx.store.mailbox(address) is None:
        raise SoapFaultError("ErrorNonExistentMailbox", f"No mailbox with SMTP address {address}.")
    if not ctx.may_access(address):
        raise EwsError("ErrorAccessDenied", f"Access is denied to the mailbox {address}.")
    return address, name


def render_folder(ctx: Context, mailbox: str, name: str, shape: ET.Element | None) -> ET.Element:
    folder = ET.Element(t(FOLDER_ELEMENTS.get(name, "Folder")))
    sub(folder, t("FolderId"), Id=folder_id(mailbox, name), ChangeKey="AQAAAA==")
    parent = {"root": None, "msgfolderroot": "root"}.get(name, "msgfolderroot")
    if parent:
        sub(folder, t("ParentFolderId"), Id=folder_id(mailbox, parent), ChangeKey="AQAAAA==")
    if name in FOLDER_CLASSES:
        sub(folder, t("FolderClass"), FOLDER_CLASSES[name])
    sub(folder, t("DisplayName"), FOLDER_NAMES[name])
    sub(folder, t("TotalCount"), ctx.store.count(mailbox, name))
    sub(folder, t("ChildFolderCount"), len(_children(name)))
    wanted = {p.get("FieldURI") for p in shape.iter(t("FieldURI"))} if shape is not None else set()
    if "folder:DistinguishedFolderId" in wanted:
        sub(folder, t("DistinguishedFolderId"), name)
    return folder


def _children(name: str) -> list[str]:
    if name == "root":
        return ["msgfolderroot"]
    if name == "msgfolderroot":
        return [folder for folder in FOLDERS if folder not in ("root", "msgfolderroot")]
    return []


def get_folder(ctx: Context, request: ET.Element) -> ET.Element:
    shape = request.find(m("FolderShape"))
    ids = list(request.find(m("FolderIds")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            mailbox, name = resolve_folder(ctx, element)
            folders = ET.Element(m("Folders"))
            folders.append(render_folder(ctx, mailbox, name, shape))
            return [folders]

        return run

    return per_message("GetFolder", ctx, [unit(element) for element in ids])


def find_folder(ctx: Context, request: ET.Element) -> ET.Element:
    shape = request.find(m("FolderShape"))
    if request.get("Traversal", "Shallow") not in ("Shallow", "Deep"):
        raise UnsupportedError(f"FindFolder with Traversal={request.get('Traversal')}")
    deep = request.get("Traversal") == "Deep"
    restriction = request.find(m("Restriction"))
    paging = request.find(m("IndexedPageItemView"))
    if request.find(m("FractionalPageItemView")) is not None:
        raise UnsupportedError("FindFolder with FractionalPageItemView")
    parents = list(request.find(m("ParentFolderIds")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            mailbox, name = resolve_folder(ctx, element)
            found = _children(name)
            if deep:
                found = found + [c for child in found for c in _children(child)]
            if restriction is not None:
                found = [
                    child
                    for child in found
                    if matches(render_folder(ctx, mailbox, child, None), restriction)
                ]
            page, root = _page(found, paging, _find_window(found, paging, None, FIND_COUNT_LIMIT))
            folders = sub(root, t("Folders"))
            folders.extend(render_folder(ctx, mailbox, child, shape) for child in page)
            return [root]

        return run

    return per_message("FindFolder", ctx, [unit(element) for element in parents])


# -- reading items ---------------------------------------------------------------------------


def load_item(ctx: Context, element: ET.Element) -> tuple[StoredItem, Occurrence | None]:
    """A stored item by ItemId or OccurrenceItemId; for an occurrence, its master and it."""
    tag = local(element.tag)
    occurrence = None
    if tag == "OccurrenceItemId":
        occurrence = (element.get("RecurringMasterId", ""), int(element.get("InstanceIndex", "1")))
    elif tag == "ItemId":
        occurrence = item_xml.parse_occurrence_id(element.get("Id", ""))
    else:
        raise UnsupportedError(f"the item id {tag}")
    item_id = occurrence[0] if occurrence else element.get("Id", "")
    stored = ctx.store.get(item_id)
    if stored is None:
        raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.")
    if not ctx.may_access(stored.mailbox):
        raise EwsError("ErrorAccessDenied", "Access is denied.")
    if occurrence is None:
        return stored, None
    found = series.instance(stored.element, occurrence[1])
    if found is not None:
        return stored, found
    if occurrence[1] in series.changed_indexes(stored.element):
        raise EwsError(
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "Occurrence has been deleted from the recurrence.",
        )
    raise EwsError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange", "No such occurrence.")


def render_occurrence(stored: StoredItem, occurrence: Occurrence, shape: Shape) -> ET.Element:
    """An occurrence as a response shows it: its own id, the master's change key."""
    rendered = item_xml.render(stored, shape, occurrence.element, occurrence.calendar_type)
    item_id = rendered.find(t("ItemId"))
    assert item_id is not None
    item_id.set("Id", item_xml.occurrence_id(stored.item_id, occurrence.index))
    return rendered


def get_item(ctx: Context, request: ET.Element) -> ET.Element:
    shape = Shape.parse(request.find(m("ItemShape")))
    ids = list(request.find(m("ItemIds")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            stored, occurrence = load_item(ctx, element)
            found = ET.Element(m("Items"))
            if occurrence is None:
                found.append(item_xml.render(stored, shape))
            else:
                found.append(render_occurrence(stored, occurrence, shape))
            return [found]

        return run

    return per_message("GetItem", ctx, [unit(element) for element in ids])


def find_item(ctx: Context, request: ET.Element) -> ET.Element:
    shape = Shape.parse(request.find(m("ItemShape")))
    if request.get("Traversal", "Shallow") != "Shallow":
        raise UnsupportedError(f"FindItem with Traversal={request.get('Traversal')}")
    restriction = request.find(m("Restriction"))
    calendar_view = request.find(m("CalendarView"))
    paging = request.find(m("IndexedPageItemView"))
    for unsupported in (
        "FractionalPageItemView",
        "SeekToConditionPageItemView",
        "GroupBy",
        "DistinguishedGroupBy",
        "QueryString",
        "ContactsView",
    ):
        if request.find(m(unsupported)) is not None:
            raise UnsupportedError(f"FindItem with {unsupported}")
    sort_order = request.find(m("SortOrder"))
    parents = list(request.find(m("ParentFolderIds")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            mailbox, folder = resolve_folder(ctx, element)
            rows = _view(ctx, mailbox, folder, calendar_view)
            limit = ctx.max_find_items or FIND_COUNT_LIMIT
            if restriction is not None:
                rows = [row for row in rows if matches(_element(row), restriction)]
                limit = min(limit, RESTRICTED_FIND_COUNT_LIMIT)
            rows = in_sort_order(rows, sort_order, _element)
            page, root = _page(rows, paging, _find_window(rows, paging, calendar_view, limit))
            container = sub(root, t("Items"))
            for stored, occurrence in page:
                if occurrence is None:
                    container.append(item_xml.render(stored, shape))
                else:
                    container.append(render_occurrence(stored, occurrence, shape))
            return [root]

        return run

    return per_message("FindItem", ctx, [unit(element) for element in parents])


def _element(row: tuple[StoredItem, Occurrence | None]) -> ET.Element:
    """The item a row of a find shows: the occurrence's own, or the stored item."""
    stored, occurrence = row
    return occurrence.element if occurrence is not None else stored.element


@dataclass(frozen=True)
class _Window:
    offset: int
    size: int


def _find_window(
    rows: list[tuple], paging: ET.Element | None, calendar_view: ET.Element | None, limit: int
) -> _Window:
    """Which rows one FindItem answers, as Exchange's find count limit (EWSFindCountLimit)
    allows: a paged request (IndexedPageItemView, or a CalendarView with MaxEntriesReturned)
    gets at most ``limit`` rows and learns from IncludesLastItemInRange that more exist; an
    unpaged one over more than ``limit`` rows is refused. A CalendarView has no offset: a
    client reads past its end only by asking for a narrower range."""
    if paging is not None:
        wanted = int(paging.get("MaxEntriesReturned", str(limit)))
        return _Window(int(paging.get("Offset", "0")), min(limit, wanted))
    wanted_text = calendar_view.get("MaxEntriesReturned") if calendar_view is not None else None
    if wanted_text:
        return _Window(0, min(limit, int(wanted_text)))
    if len(rows) > limit:
        message_xml = ET.Element(m("MessageXml"))
        sub(message_xml, t("Value"), limit, Name="PolicyLimit")
        raise EwsError(
            "ErrorExceededFindCountLimit",
            "You have exceeded the maximum number of objects that can be returned for the find"
            " operation. Use paging to reduce the result size and try your request again.",
            message_xml,
        )
    return _Window(0, len(rows))


def _page(
    rows: list[tuple], paging: ET.Element | None, window: _Window
) -> tuple[list[tuple], ET.Element]:
    """A find's rows in the window, and the RootFolder saying where they are in the view."""
    if paging is not None and paging.get("BasePoint") == "End":
        rows = list(reversed(rows))
    page = rows[window.offset : window.offset + window.size]
    last = window.offset + len(page) >= len(rows)
    attributes = {
        "TotalItemsInView": str(len(rows)),
        "IncludesLastItemInRange": "true" if last else "false",
    }
    if paging is not None:
        attributes["IndexedPagingOffset"] = str(window.offset + len(page))
    return page, ET.Element(m("RootFolder"), attributes)


def _view(
    ctx: Context, mailbox: str, folder: str, calendar_view: ET.Element | None
) -> list[tuple[StoredItem, Occurrence | None]]:
    """(stored item, occurrence or None) rows; a CalendarView expands series.

    Microsoft's CalendarView reference: items that end before StartDate, and items that
    start on or after EndDate, are left out; so one ending exactly at StartDate is in.
    """
    stored_items = ctx.store.items(mailbox, folder)
    if calendar_view is None:
        return [(stored, None) for stored in stored_items]
    start = parse_datetime(calendar_view.get("StartDate", ""))
    end = parse_datetime(calendar_view.get("EndDate", ""))
    if end < start:
        raise EwsError(
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "EndDate is earlier than StartDate",
        )
    rows: list[tuple[str, StoredItem, Occurrence | None]] = []
    for stored in stored_items:
        if stored.element.find(t("Recurrence")) is not None:
            rows.extend(
                (format_datetime(found.start), stored, found)
                for found in series.instances(stored.element, start, end)
            )
            continue
        begin_text, end_text = (
            stored.element.findtext(t("Start")),
            stored.element.findtext(t("End")),
        )
        if (
            begin_text
            and end_text
            and parse_datetime(begin_text) < end
            and parse_datetime(end_text) >= start
        ):
            rows.append((begin_text, stored, None))
    rows.sort(key=lambda row: row[0])
    return [(stored, found) for _, stored, found in rows]


# -- writing items ---------------------------------------------------------------------------


def create_item(ctx: Context, request: ET.Element) -> ET.Element:
    disposition = request.get("MessageDisposition")
    saved = request.find(m("SavedItemFolderId"))
    target = next(iter(saved), None) if saved is not None else None
    new_items = list(request.find(m("Items")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            kind = local(element.tag)
            if kind not in item_xml.ITEM_CLASSES:
                raise UnsupportedError(f"creating a {kind}")
            if target is not None:
                mailbox, folder = resolve_folder(ctx, target)
            else:
                mailbox = ctx.target
                folder = item_xml.FOLDER_FOR_TAG.get(kind, "drafts")
            found = ET.Element(m("Items"))
            if kind == "Message" and disposition in SEND:
                ctx.store.record_sent(mailbox, element)
                if disposition == "SendOnly":
                    return [found]
                folder = "sentitems"
            stored = ctx.store.create(mailbox, folder, item_xml.normalise(element))
            found.append(item_xml.render(stored, Shape("IdOnly", ())))
            return [found]

        return run

    return per_message("CreateItem", ctx, [unit(element) for element in new_items])


def update_item(ctx: Context, request: ET.Element) -> ET.Element:
    resolution = request.get("ConflictResolution", "AutoResolve")
    changes = list(request.find(m("ItemChanges")) or [])

    def unit(change: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            id_element = change[0]
            stored, occurrence = load_item(ctx, id_element)
            change_key = id_element.get("ChangeKey")
            if change_key and change_key != stored.change_key and resolution == "NeverOverwrite":
                raise EwsError(
                    "ErrorIrresolvableConflict",
                    "The send or update operation could not be performed because the"
                    " change key passed in the request does not match the current"
                    " change key for the item.",
                )
            source = occurrence.element if occurrence is not None else stored.element
            element = ET.fromstring(ET.tostring(source))
            for update in change.find(t("Updates")) or []:
                _apply_update(element, update)
            if occurrence is not None:
                if element.find(t("Recurrence")) is not None:
                    raise UnsupportedError("a recurrence on one occurrence of a series")
                # One occurrence changed becomes an exception kept on its master.
                element = series.with_exception(stored.element, occurrence.index, element)
            updated = ctx.store.replace(stored, item_xml.whole_days(element))
            found = ET.Element(m("Items"))
            if occurrence is None:
                found.append(item_xml.render(updated, Shape("IdOnly", ())))
            else:
                now = series.instance(updated.element, occurrence.index)
                assert now is not None
                found.append(render_occurrence(updated, now, Shape("IdOnly", ())))
            conflicts = ET.Element(m("ConflictResults"))
            sub(conflicts, t("Count"), 0)
            return [found, conflicts]

        return run

    return per_message("UpdateItem", ctx, [unit(change) for change in changes])


def _apply_update(element: ET.Element, update: ET.Element) -> None:
    kind = local(update.tag)
    path = Path.parse(update[0])
    if kind == "DeleteItemField":
        item_xml.delete_value(element, path)
    elif kind in ("SetItemField", "AppendToItemField"):
        if kind == "AppendToItemField" and path.name not in ("Body", "Categories"):
            raise UnsupportedError(f"AppendToItemField of {path.uri}")
        item_xml.set_value(element, path, update[1])
    else:
        raise UnsupportedError(f"the item update {kind}")


def delete_item(ctx: Context, request: ET.Element) -> ET.Element:
    delete_type = request.get("DeleteType", "HardDelete")
    ids = list(request.find(m("ItemIds")) or [])

    def unit(element: ET.Element) -> Callable[[], list[ET.Element]]:
        def run() -> list[ET.Element]:
            stored, occurrence = load_item(ctx, element)
            if occurrence is not None:
                # One occurrence deleted is remembered on its master (DeletedOccurrences).
                deleted = series.with_exception(stored.element, occurrence.index, None)
                ctx.store.replace(stored, deleted)
                return []
            move = delete_type == "MoveToDeletedItems" and stored.folder != "deleteditems"
            ctx.store.delete(stored, "deleteditems" if move else None)
            return []

        return run

    return per_message("DeleteItem", ctx, [unit(element) for element in ids])


# -- sync ------------------------------------------------------------------------------------


def _sync_state(mailbox: str, folder: str, seq: int) -> str:
    return base64.b64encode(f"S|{mailbox}|{folder}|{seq}".encode()).decode()


def _parse_sync_state(value: str | None, mailbox: str, folder: str) -> int:
    if not value:
        return 0
    try:
        kind, owner, name, seq = base64.b64decode(value, validate=True).decode().split("|")
    except ValueError:
        kind = owner = name = seq = ""
    if (kind, owner, name) != ("S", mailbox, folder) or not seq.isdigit():
        raise EwsError(
            "ErrorInvalidSyncStateData",
            "Synchronization state data is corrupt or otherwise invalid.",
        )
    return int(seq)


def sync_folder_items(ctx: Context, request: ET.Element) -> ET.Element:
    shape = Shape.parse(request.find(m("ItemShape")))
    ignore = request.find(m("Ignore"))
    if ignore is not None and len(ignore):
        raise UnsupportedError("SyncFolderItems with an Ignore list")

    try:
        payload = _sync(ctx, request, shape)
    except EwsError as failure:
        return response("SyncFolderItems", [sync_error(failure)])
    message = success("SyncFolderItems")
    message.extend(payload)
    return response("SyncFolderItems", [message])


def _sync(ctx: Context, request: ET.Element, shape: Shape) -> list[ET.Element]:
    folder_element = next(iter(request.find(m("SyncFolderId")) or []), None)
    if folder_element is None:
        raise EwsError("ErrorInvalidRequest", "SyncFolderItems needs a SyncFolderId.")
    mailbox, folder = resolve_folder(ctx, folder_element)
    since = _parse_sync_state(request.findtext(m("SyncState")), mailbox, folder)
    wanted = int(request.findtext(m("MaxChangesReturned")) or 100)
    limit = min(wanted, ctx.max_sync_changes or wanted, 512)
    changes = ctx.store.changes_since(mailbox, folder, since)
    first_kind: dict[str, str] = {}
    last: dict[str, tuple[int, str]] = {}
    for seq, item_id, kind in changes:
        first_kind.setdefault(item_id, kind)
        last[item_id] = (seq, kind)
    ordered = sorted(last.items(), key=lambda entry: entry[1][0])
    container = ET.Element(m("Changes"))
    reported = 0
    position = since
    for item_id, (seq, kind) in ordered:
        existed, exists = first_kind[item_id] != "create", kind != "delete"
        if reported >= limit and (existed or exists):
            break
        position = seq
        if exists:
            stored = ctx.store.get(item_id)
            if stored is None or stored.folder != folder:
                continue
            change = sub(container, t("Update" if existed else "Create"))
            change.append(item_xml.render(stored, shape))
        elif existed:
            sub(sub(container, t("Delete")), t("ItemId"), Id=item_id, ChangeKey="")
        else:
            continue
        reported += 1
    done = position == (ordered[-1][1][0] if ordered else since)
    if done:
        position = max(position, ctx.store.head(mailbox, folder))
    state = ET.Element(m("SyncState"))
    state.text = _sync_state(mailbox, folder, position)
    includes = ET.Element(m("IncludesLastItemInRange"))
    includes.text = "true" if done else "false"
    return [state, includes, container]


# -- people ----------------------------------------------------------------------------------


def resolve_names(ctx: Context, request: ET.Element) -> ET.Element:
    wanted = (request.findtext(m("UnresolvedEntry")) or "").strip().lower()
    wanted = wanted.removeprefix("smtp:")

    def run() -> list[ET.Element]:
        found = [
            mailbox
            for mailbox in ctx.store.mailboxes()
            if wanted and (wanted == mailbox.address or wanted in mailbox.name.lower())
        ]
        if not found:
            raise EwsError("ErrorNameResolutionNoResults", "No results were found.")
        view = {"TotalItemsInView": str(len(found)), "IncludesLastItemInRange": "true"}
        resolutions = ET.Element(m("ResolutionSet"), view)
        for mailbox in found:
            entry = sub(sub(resolutions, t("Resolution")), t("Mailbox"))
            sub(entry, t("Name"), mailbox.name)
            sub(entry, t("EmailAddress"), mailbox.address)
            sub(entry, t("RoutingType"), "SMTP")
            sub(entry, t("MailboxType"), "Mailbox")
        return [resolutions]

    return per_message("ResolveNames", ctx, [run])


def convert_id(ctx: Context, request: ET.Element) -> ET.Element:
    """Enough of ConvertId for exchangelib's server version probe ("DUMMY" ids)."""
    ids = list(request.find(m("SourceIds")) or [])

    def run() -> list[ET.Element]:
        raise EwsError("ErrorInvalidIdMalformed", "The id is malformed (msext emulator).")

    return per_message("ConvertId", ctx, [run for _ in ids] or [run])


def get_server_time_zones(ctx: Context, request: ET.Element) -> ET.Element:
    """Time zone definitions, one message per id asked for (see :mod:`timezones`)."""
    ids = [element.text or "" for element in request.iterfind(f"{m('Ids')}/{t('Id')}")]
    if not ids:
        raise UnsupportedError("GetServerTimeZones without Ids (the list of every zone)")
    full = request.get("ReturnFullTimeZoneData", "true").lower() in ("true", "1")

    def unit(windows_id: str) -> Callable[[], list[ET.Element]]:
        return lambda: [timezones.definitions(windows_id, full)]

    return per_message("GetServerTimeZones", ctx, [unit(windows_id) for windows_id in ids])


OPERATIONS: dict[str, Callable[[Context, ET.Element], ET.Element]] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "FindItem": find_item,
    "GetItem": get_item,
    "CreateItem": create_item,
    "UpdateItem": update_item,
    "DeleteItem": delete_item,
    "SyncFolderItems": sync_folder_items,
    "ResolveNames": resolve_names,
    "ConvertId": convert_id,
    "GetServerTimeZones": get_server_time_zones,
}

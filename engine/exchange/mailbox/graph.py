"""The mailbox over Microsoft Graph: one app registration reaches every synced mailbox (R19).

Exchange Online is retiring EWS; Graph is its way in. Costs are kept to what the sync needs:
calendars and contacts are followed with delta queries (one request per folder when nothing
changed) and their links kept as the sync state; what a delta cannot answer (the PSA stamp,
bodies) is read, and every write made, in JSON batches of 20.

Graph follows a calendar only over a fixed span (calendarView delta): the state remembers
its span (the window widened to whole weeks), and a run whose window has moved into
another week pulls the calendar afresh.
The span lists the occurrences of a person's series, never their master, so
:meth:`GraphMailbox.occurrences` has nothing to add.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from engine.exchange.mailbox.base import (
    ChangePage,
    DeltaCheck,
    FolderKind,
    ForeignSyncStateError,
    ItemChange,
    ItemRef,
    MailboxError,
    MailboxItem,
    NewItem,
    StampChange,
    SyncStateExpiredError,
    TimeChange,
    WriteError,
    WriteResult,
    content_digest,
    rest_id,
)
from engine.exchange.mailbox.graph_items import (
    CONTACT_FIELDS,
    PRIVATE,
    STAMP_PROPERTY,
    collection,
    is_series_member,
    item_json,
    stamp_of,
    to_mailbox_item,
    when,
)
from engine.exchange.mailbox.graph_prefetch import Prefetched
from engine.graph.http import (
    GraphClient,
    GraphRequest,
    GraphResponse,
    raise_for,
    user_path,
)
from engine.server_data import reads_server_data
from engine.settings.model import CALENDARS_PERMISSION as CALENDARS
from engine.settings.model import CONTACTS_PERMISSION as CONTACTS
from engine.settings.model import MAIL_SEND_PERMISSION as MAIL_SEND
from engine.settings.model import ExchangeGeneral

_PERMISSIONS = {FolderKind.CALENDAR: CALENDARS, FolderKind.CONTACTS: CONTACTS}
_STAMP_EXPAND = urlencode(
    {"$expand": f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY}')"},
    quote_via=quote,
    safe="$(),'",
)
_STAMP_QUERY = f"$select=id&{_STAMP_EXPAND}"
_TEXT_BODIES = {"Prefer": 'outlook.body-content-type="text"'}
_EVENT_FIELDS = (
    "changeKey,subject,start,end,isAllDay,location,sensitivity,categories,"
    "type,seriesMasterId,originalStart"
)
"""What a pull knows of an event, asked of one followed by its id."""


class GraphConnector:
    """One Graph connection (app registration + secret), shared by every mailbox."""

    def __init__(
        self,
        general: ExchangeGeneral,
        secret: str,
        graph_url: str | None = None,
        token_url: str | None = None,
        workers: int = 4,
    ) -> None:
        self.general = general
        self.client = GraphClient(
            base_url=graph_url or general.graph_url,
            token_url=token_url or general.token_url(),
            client_id=general.oauth_client_id or "",
            secret=secret,
            limits=general.http_limits(),
            connections=max(1, min(workers, 10)),
        )
        self.endpoint = self.client.base_url
        self._prefetched = Prefetched()

    def open(self, address: str) -> GraphMailbox:
        return GraphMailbox(self.client, address, self._prefetched)

    def prefetch(self, checks: Sequence[DeltaCheck]) -> None:
        """The idle checks of a run in batches across mailboxes (see graph_prefetch). A
        stored state a pull would refuse, or a link outside the API's root, is left to the
        pull to find out."""
        asks = []
        for check in checks:
            if check.folder not in _PERMISSIONS:
                continue
            try:
                link = _link(
                    check.sync_state, check.address, _folder_span(check.folder, check.window)
                )
            except SyncStateExpiredError:
                continue
            if "://" not in link:
                asks.append((check.address, _delta_request(link, check.page_size)))
        self._prefetched.fetch(self.client, asks)

    def resolve(self, address: str) -> bool:
        """Whether Microsoft 365 knows a mailbox with this address (outside the access
        policy it still exists: Graph says so with 403, not 404)."""
        response = self.client.send(GraphRequest("GET", f"{user_path(address)}/calendar"), address)
        if response.status == 404:
            return False
        if not (response.ok or response.status == 403):
            raise_for(response, address, CALENDARS)
        return True

    def send_message(self, recipients: Sequence[str], subject: str, body: str) -> None:
        """Send a plain-text message from the synchronization account's own mailbox."""
        sender = self.general.sync_account
        message = {
            "message": {
                "subject": subject,
                "body": {"contentType": "text", "content": body},
                "toRecipients": [{"emailAddress": {"address": address}} for address in recipients],
            },
            "saveToSentItems": True,
        }
        self.client.call(
            GraphRequest("POST", f"{user_path(sender)}/sendMail", message), sender, MAIL_SEND
        )

    def close(self) -> None:
        self.client.close()


_reads = reads_server_data("Microsoft Graph", MailboxError)
"""What parses Graph's answers: an entry of the wrong shape is the mailbox's named error."""


class GraphMailbox:
    """One user's mailbox, reached with the app registration's application permissions."""

    def __init__(
        self, client: GraphClient, address: str, prefetched: Prefetched | None = None
    ) -> None:
        self.address = address
        self._client = client
        self._user = user_path(address)
        self._prefetched = prefetched or Prefetched()

    def _call(self, request: GraphRequest, folder: FolderKind) -> Any:
        return self._client.call(request, self.address, _PERMISSIONS.get(folder, CALENDARS))

    def _batch(self, requests: list[GraphRequest], folder: FolderKind) -> list[GraphResponse]:
        return self._client.batch(requests, self.address, _PERMISSIONS.get(folder, CALENDARS))

    def _item_url(self, folder: FolderKind, item_id: str) -> str:
        return f"{self._user}/{collection(folder)}/{quote(item_id, safe='')}"

    def check_access(self) -> None:
        self.reach(FolderKind.CALENDAR)

    def reach(self, folder: FolderKind) -> None:
        """Read one folder with the app's permission for it; raises what stands in the way."""
        if folder is FolderKind.CALENDAR:
            self._call(GraphRequest("GET", f"{self._user}/calendar"), folder)
            return
        url = f"{self._user}/{collection(folder)}/delta?$select=id"
        self._call(GraphRequest("GET", url, headers={"Prefer": "odata.maxpagesize=1"}), folder)

    # -- pulls -------------------------------------------------------------------------

    @_reads
    def pull(
        self,
        folder: FolderKind,
        sync_state: str | None,
        page_size: int,
        window: tuple[datetime, datetime],
    ) -> Iterator[ChangePage]:
        span = _folder_span(folder, window)
        link = (
            self._first_link(folder, span)
            if sync_state is None
            else _link(sync_state, self.address, span)
        )
        while True:
            page = self._delta_page(_delta_request(link, page_size), folder)
            next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if not (next_link or delta_link):
                raise SyncStateExpiredError("Microsoft Graph ended a delta round without a link")
            changes = self._changes(folder, page.get("value") or [])
            link = self._client.relative(next_link or delta_link)
            state = json.dumps({"mailbox": self.address, "span": span, "link": link})
            yield ChangePage.fold(changes, state, last=bool(delta_link))
            if delta_link:
                return

    def _delta_page(self, request: GraphRequest, folder: FolderKind) -> Any:
        """A delta page: the answer asked ahead in a batch if there is one (the same
        answer the GET would have had), else the GET's."""
        answer = self._prefetched.take(self.address, request)
        if answer is None:
            return self._call(request, folder)
        if not answer.ok:
            raise_for(answer, self.address, _PERMISSIONS[folder])
        return answer.body

    def _first_link(self, folder: FolderKind, span: list[str] | None) -> str:
        if span is None:
            return f"{self._user}/{collection(folder)}/delta?$select={CONTACT_FIELDS}"
        query = urlencode({"startDateTime": span[0], "endDateTime": span[1]})
        return f"{self._user}/calendarView/delta?{query}"

    def _changes(self, folder: FolderKind, entries: list[dict]) -> list[MailboxItem | str]:
        """A delta page's entries in order; removals as ids. A delta cannot expand extended
        properties, so the stamps of the page's items are read in one batch per 20."""
        present = [entry for entry in entries if "@removed" not in entry]
        stampable = [entry["id"] for entry in present if not is_series_member(entry)]
        stamps = self._stamps(folder, stampable)
        changes: list[MailboxItem | str] = []
        for entry in entries:
            item_id = entry["id"]
            if "@removed" in entry or stamps.get(item_id, "") is None:
                changes.append(item_id)
            else:
                changes.append(to_mailbox_item(folder, entry, stamps.get(item_id) or None))
        return changes

    def _stamps(self, folder: FolderKind, item_ids: list[str]) -> dict[str, str | None]:
        """Item id -> its stamp ("" for a person's item, ``None`` for an item gone since)."""
        requests = [
            GraphRequest("GET", f"{self._item_url(folder, item_id)}?{_STAMP_QUERY}")
            for item_id in item_ids
        ]
        found: dict[str, str | None] = {}
        for item_id, answer in zip(item_ids, self._batch(requests, folder), strict=True):
            if answer.status == 404:
                found[item_id] = None
            elif not answer.ok:
                raise_for(answer, self.address, _PERMISSIONS[folder])
            else:
                found[item_id] = stamp_of(answer.body) or ""
        return found

    def native_id(self, item_id: str) -> str:
        return rest_id(item_id)

    @_reads
    def bodies(self, item_ids: Sequence[str]) -> dict[str, str]:
        requests = [
            GraphRequest(
                "GET",
                f"{self._item_url(FolderKind.CALENDAR, item_id)}?$select=body,sensitivity",
                headers=_TEXT_BODIES,
            )
            for item_id in item_ids
        ]
        found: dict[str, str] = {}
        for item_id, answer in zip(
            item_ids, self._batch(requests, FolderKind.CALENDAR), strict=True
        ):
            if not answer.ok or answer.body.get("sensitivity") in PRIVATE:
                continue
            found[item_id] = str((answer.body.get("body") or {}).get("content") or "").strip()
        return found

    @_reads
    def occurrences(
        self, master_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[MailboxItem]:
        """Nothing to add: the calendar's delta already lists occurrences (see the module)."""
        return []

    def follow(
        self, folder: FolderKind, item_ids: Sequence[str], master_ids: Sequence[str]
    ) -> list[MailboxItem]:
        """GET by id, in batches: the calendarView delta reports an event that left its
        span as removed, though it is still there. An occurrence names its series."""
        fields = _EVENT_FIELDS if folder is FolderKind.CALENDAR else f"changeKey,{CONTACT_FIELDS}"
        requests = [
            GraphRequest(
                "GET",
                f"{self._item_url(folder, item_id)}?$select={fields}&{_STAMP_EXPAND}",
                headers={"Prefer": 'outlook.timezone="UTC"'},
            )
            for item_id in item_ids
        ]
        found = []
        for answer in self._batch(requests, folder) if requests else []:
            if answer.status == 404:
                continue
            if not answer.ok:
                raise_for(answer, self.address, _PERMISSIONS[folder])
            found.append(to_mailbox_item(folder, answer.body, stamp_of(answer.body)))
        return found

    # -- writes ------------------------------------------------------------------------

    def create(self, items: Sequence[NewItem]) -> list[WriteResult]:
        requests = [
            GraphRequest(
                "POST",
                f"{self._user}/{collection(item.folder)}",
                item_json(item.content, item.stamp),
            )
            for item in items
        ]
        return [
            self._result(answer, item.folder, None, content_digest(item.content, item.folder))
            for item, answer in zip(items, self._write(requests), strict=True)
        ]

    def update(self, changes: Sequence[ItemChange]) -> list[WriteResult]:
        requests = [
            self._patch(
                change.folder,
                change.item_id,
                change.change_key,
                item_json(change.content, change.stamp),
            )
            for change in changes
        ]
        return [
            self._result(
                answer, change.folder, change.item_id, content_digest(change.content, change.folder)
            )
            for change, answer in zip(changes, self._write(requests), strict=True)
        ]

    def move(self, changes: Sequence[TimeChange]) -> list[WriteResult]:
        requests = [
            self._patch(
                FolderKind.CALENDAR,
                change.item_id,
                change.change_key,
                {"start": when(change.start), "end": when(change.end)},
            )
            for change in changes
        ]
        return [
            self._result(answer, FolderKind.CALENDAR, change.item_id, "")
            for change, answer in zip(changes, self._write(requests), strict=True)
        ]

    def restamp(self, items: Sequence[StampChange]) -> list[WriteResult]:
        """Graph cannot remove an extended property: a cleared stamp is emptied, which every
        reader takes for no stamp."""
        requests = [
            self._patch(
                item.folder,
                item.item_id,
                item.change_key,
                {
                    "singleValueExtendedProperties": [
                        {"id": STAMP_PROPERTY, "value": item.value or ""}
                    ]
                },
            )
            for item in items
        ]
        return [
            self._result(answer, item.folder, item.item_id, "")
            for item, answer in zip(items, self._write(requests), strict=True)
        ]

    def delete(self, items: Sequence[ItemRef]) -> list[WriteResult]:
        """Graph's delete moves the item to Deleted Items (never a hard delete)."""
        requests = [
            GraphRequest("DELETE", self._item_url(item.folder, item.item_id)) for item in items
        ]
        return [
            self._result(answer, item.folder, item.item_id, "")
            for item, answer in zip(items, self._write(requests), strict=True)
        ]

    def _patch(
        self, folder: FolderKind, item_id: str, change_key: str, body: dict[str, Any]
    ) -> GraphRequest:
        """A PATCH guarded by the change key: a person's edit since our pull is a conflict."""
        headers = {"If-Match": f'W/"{change_key}"'} if change_key else {}
        return GraphRequest("PATCH", self._item_url(folder, item_id), body, headers)

    def _write(self, requests: list[GraphRequest]) -> list[GraphResponse]:
        return self._batch(requests, FolderKind.CALENDAR) if requests else []

    @_reads
    def _result(
        self, answer: GraphResponse, folder: FolderKind, item_id: str | None, digest: str
    ) -> WriteResult:
        if answer.ok:
            body = answer.body if isinstance(answer.body, dict) else {}
            return WriteResult(body.get("id") or item_id, body.get("changeKey"), digest)
        code, message = answer.error
        if answer.status == 404:
            return WriteResult(item_id, None, error=WriteError.NOT_FOUND, message=message)
        if answer.status in (409, 412):
            return WriteResult(item_id, None, error=WriteError.CONFLICT, message=message)
        if answer.status in (401, 403):
            raise_for(answer, self.address, _PERMISSIONS[folder])
        return WriteResult(
            item_id, None, error=WriteError.REJECTED, message=f"{answer.status} {code}: {message}"
        )


def _delta_request(link: str, page_size: int) -> GraphRequest:
    prefer = f'odata.maxpagesize={page_size}, outlook.timezone="UTC"'
    return GraphRequest("GET", link, headers={"Prefer": prefer})


def _folder_span(folder: FolderKind, window: tuple[datetime, datetime]) -> list[str] | None:
    """The calendarView span a calendar is followed over; a contacts delta has none."""
    return _span(window) if folder is FolderKind.CALENDAR else None


def _span(window: tuple[datetime, datetime]) -> list[str]:
    """The calendarView span followed for ``window``: widened to whole weeks (Monday to
    Monday, UTC), so that it moves, and the calendar is pulled afresh, once a week rather
    than every day; reconcile keeps to the window itself."""
    start, end = (_monday(moment) for moment in window)
    if end < window[1]:
        end += timedelta(weeks=1)
    return [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (start, end)]


def _monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time(0), UTC)


def _link(sync_state: str, address: str, span: list[str] | None) -> str:
    """The stored delta (or next) link, if it was made by Graph, for this mailbox (a link
    names its mailbox) and over this window."""
    try:
        state = json.loads(sync_state)
        link, mailbox, stored_span = str(state["link"]), state["mailbox"], state["span"]
    except (ValueError, KeyError, TypeError):
        raise ForeignSyncStateError(
            "the sync state was made for EWS, not Microsoft Graph"
        ) from None
    if mailbox != address:
        raise SyncStateExpiredError(f"the sync state was made for the mailbox {mailbox}")
    if stored_span != span:
        raise SyncStateExpiredError("the sync window has moved on")
    return link

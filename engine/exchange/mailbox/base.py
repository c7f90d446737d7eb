"""The mailbox as the engine sees it: incremental pulls, bulk writes, per-item results.

The EWS adapter (``ews.py``) implements it over exchangelib, the Graph adapter
(``graph.py``) over httpx.
Content handed to a mailbox is already projected (``engine.exchange.projection``); what comes back
is only what reconcile needs, and never more of a private item than its date and time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from engine.errors import UserError


class FolderKind(StrEnum):
    CALENDAR = "calendar"
    CONTACTS = "contacts"
    TASKS = "tasks"


PRIVATE_SENSITIVITIES = frozenset({"Private", "Confidential"})
STAMP_PROPERTY_SET = "7f3c1d52-9a4e-4b7e-8a61-5d2c0e9b4f17"
STAMP_PROPERTY_NAME = "msextPsaRecord"
"""The named MAPI property holding the PSA record key on every item the engine creates."""
STAMP_OWNER_SEPARATOR = "@"
"""A stamp reads ``<record key>@<installation id>``: two msext installations that sync the
same mailboxes (two profiles, a test beside production) never take each other's items for
their own. Stamps written before installations were named hold the record key alone."""


def stamp_value(key: str, installation: str) -> str:
    """The stamp property's value for a record key written by ``installation``."""
    return f"{key}{STAMP_OWNER_SEPARATOR}{installation}"


def parse_stamp(value: str | None) -> tuple[str | None, str | None]:
    """(record key, installation) of a stamp property's value; (None, None) for no stamp,
    (key, None) for a stamp written before installations were named."""
    if not value:
        return None, None
    key, separator, installation = value.rpartition(STAMP_OWNER_SEPARATOR)
    return (key, installation or None) if separator else (value, None)


@dataclass(frozen=True, slots=True)
class MailboxItem:
    """One item as a pull reports it.

    ``stamp`` is the PSA record key the engine wrote on items it created; ``None`` means a
    person created the item. ``owner`` is the msext installation that wrote the stamp
    (``None`` on a stamp written before installations were named). For private items
    ``subject``, ``location`` and ``body`` are always ``None``: they are dropped at the
    adapter so that nothing downstream can leak them (R05).
    """

    item_id: str
    change_key: str
    folder: FolderKind
    stamp: str | None
    is_appointment: bool
    subject: str | None = None
    location: str | None = None
    body: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    private: bool = False
    is_master: bool = False
    master_id: str | None = None
    """Set on an occurrence of a recurring series: the series' item id."""
    original_start: datetime | None = None
    """An occurrence's start as its series' pattern gives it (EWS ``OriginalStart``, Graph
    ``originalStart``): with ``master_id``, what names the occurrence however it moves."""
    digest: str = ""
    """A hash of the fields the engine writes, to tell a person's edit from ours."""
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of changes: apply it and store ``sync_state`` in one transaction.

    Removals apply first (with the occurrences of a removed series), then upserts: an item
    in both was removed and then reported again, as Graph does when a series changes.
    """

    upserts: tuple[MailboxItem, ...]
    deleted_ids: tuple[str, ...]
    sync_state: str
    last: bool

    @classmethod
    def fold(cls, changes: Iterable[MailboxItem | str], sync_state: str, last: bool) -> ChangePage:
        """A page from changes in server order, a ``str`` being a removed item id: a
        removal cancels what the page upserted before it for that item or its series."""
        upserts: dict[str, MailboxItem] = {}
        deleted: dict[str, None] = {}
        for change in changes:
            if isinstance(change, MailboxItem):
                upserts[change.item_id] = change
                continue
            deleted[change] = None
            for item_id in [k for k, v in upserts.items() if change in (k, v.master_id)]:
                del upserts[item_id]
        return cls(tuple(upserts.values()), tuple(deleted), sync_state, last)


@dataclass(frozen=True, slots=True)
class CalendarContent:
    """What the engine writes into a calendar (or tasks) item for a PSA record (R15)."""

    subject: str
    body: str
    start: datetime
    end: datetime
    all_day: bool
    location: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ContactContent:
    given_name: str
    surname: str
    company: str
    email: str | None
    phone: str | None
    job_title: str | None
    body: str


Content = CalendarContent | ContactContent


def calendar_digest(
    subject: str | None,
    start: datetime | None,
    end: datetime | None,
    all_day: bool,
    location: str | None,
    categories: Sequence[str],
) -> str:
    """What a person could change on an item the engine wrote, as one comparable value.

    The body is left out: pulls do not read bodies, so an edit of the body alone is not
    seen (and not reverted) until the PSA record changes.
    """
    return _digest(
        subject or "",
        start.isoformat() if start else "",
        end.isoformat() if end else "",
        str(all_day),
        location or "",
        ",".join(sorted(categories)),
    )


def contact_digest(
    given_name: str | None,
    surname: str | None,
    company: str | None,
    email: str | None,
    phone: str | None,
    job_title: str | None,
) -> str:
    return _digest(
        given_name or "", surname or "", company or "", email or "", phone or "", job_title or ""
    )


def visible_time(folder: FolderKind, moment: datetime | None) -> datetime | None:
    """A time as the folder shows it: tasks keep only the date (midnight UTC)."""
    if moment is None or folder is not FolderKind.TASKS:
        return moment
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def content_digest(content: Content, folder: FolderKind) -> str:
    """The digest a pull will report for an item holding ``content`` in ``folder``."""
    if isinstance(content, CalendarContent):
        return calendar_digest(
            content.subject,
            visible_time(folder, content.start),
            visible_time(folder, content.end),
            content.all_day,
            content.location,
            content.categories,
        )
    return contact_digest(
        content.given_name,
        content.surname,
        content.company,
        content.email,
        content.phone,
        content.job_title,
    )


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class NewItem:
    folder: FolderKind
    stamp: str
    """The stamp property's value (:func:`stamp_value`)."""
    content: Content


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An update of an item the engine created; ``change_key`` guards against lost edits.
    The stamp is written again with the content, so a stamp written before installations
    were named names this one after its next update."""

    item_id: str
    change_key: str
    folder: FolderKind
    content: Content
    stamp: str


@dataclass(frozen=True, slots=True)
class TimeChange:
    """A date/time change of a person's appointment (R16): nothing else is touched."""

    item_id: str
    change_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class StampChange:
    """Rewrite an item's stamp, nothing else: ``value`` ``None`` clears it (a copy a person
    made their own), a value names this installation on a stamp written before
    installations were named."""

    item_id: str
    change_key: str
    folder: FolderKind
    value: str | None = None


@dataclass(frozen=True, slots=True)
class ItemRef:
    """An item to delete; Graph addresses items per folder (``/events``, ``/contacts``)."""

    item_id: str
    folder: FolderKind


class WriteError(StrEnum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class WriteResult:
    item_id: str | None
    change_key: str | None
    digest: str = ""
    error: WriteError | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class MailboxError(UserError):
    """A mailbox could not be reached; the message says why and what to do."""


class AccessDeniedError(MailboxError):
    """The synchronization account may not impersonate this mailbox (R14)."""


class AccessPolicyError(AccessDeniedError):
    """Graph: the application access policy (or RBAC for Applications scope) leaves this
    mailbox out."""


class MissingPermissionError(AccessDeniedError):
    """Graph: the app registration lacks an application permission (admin consent)."""

    def __init__(self, message: str, permission: str) -> None:
        super().__init__(message)
        self.permission = permission


class MailboxNotFoundError(MailboxError):
    pass


class ThrottledError(MailboxError):
    """The server asked us to back off longer than one run may wait; retry next cycle."""


class SyncStateExpiredError(MailboxError):
    """The server no longer knows our sync state: pull the folder from scratch."""


class TruncatedViewError(MailboxError):
    """The server answered a view of a span with only part of its items (Exchange answers a
    find with at most 1,000): nothing may be concluded from it; read narrower spans."""


class ForeignSyncStateError(SyncStateExpiredError):
    """The sync state was made through the other mailbox API: the profile switched between
    EWS and Graph, so the stored item ids are the other API's (see :func:`rest_id`)."""


def rest_id(ews_id: str) -> str:
    """An EWS item id as Microsoft Graph names the same item: the same base64, made safe
    for URLs as Outlook's ``convertToRestId`` does. App-only Graph cannot call
    translateExchangeIds, and needs no request for this."""
    return ews_id.replace("/", "-").replace("+", "_")


def ews_id(graph_id: str) -> str:
    """A Graph item id as EWS names the same item (the inverse of :func:`rest_id`)."""
    return graph_id.replace("-", "/").replace("_", "+")


class Mailbox(Protocol):
    """One user's mailbox, reached through the synchronization account."""

    address: str

    def check_access(self) -> None:
        """Raise :class:`AccessDeniedError` or :class:`MailboxNotFoundError` if unusable."""
        ...

    def reach(self, folder: FolderKind) -> None:
        """Read one folder; raises a :class:`MailboxError` when it cannot."""
        ...

    def pull(
        self,
        folder: FolderKind,
        sync_state: str | None,
        page_size: int,
        window: tuple[datetime, datetime],
    ) -> Iterator[ChangePage]:
        """Changes since ``sync_state`` (everything when ``None``), page by page.

        ``window`` is the span the run reconciles; an API that can only follow a calendar
        over a fixed span (Graph's calendarView delta) reports the occurrences of series
        inside it with ``master_id`` set, and raises :class:`SyncStateExpiredError` when the
        span of its sync state is not this one.
        """
        ...

    def bodies(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Text bodies of non-private items, for imports with full details (R06)."""
        ...

    def native_id(self, item_id: str) -> str:
        """An item id the other mailbox API gave, as this API names the same item (an id
        this API gave is returned as it is)."""
        ...

    def occurrences(
        self, master_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[MailboxItem]:
        """Occurrences of these recurring series inside [start, end); raises
        :class:`TruncatedViewError` when the server would answer only part of the span."""
        ...

    def follow(
        self, folder: FolderKind, item_ids: Sequence[str], master_ids: Sequence[str]
    ) -> list[MailboxItem]:
        """The items with these ids that are still in ``folder``, wherever their time is now:
        an item that left the sync window is followed, not taken for deleted. Items deleted
        or moved to another folder are left out; an occurrence is given the one of
        ``master_ids`` it belongs to."""
        ...

    def create(self, items: Sequence[NewItem]) -> list[WriteResult]: ...

    def update(self, changes: Sequence[ItemChange]) -> list[WriteResult]: ...

    def move(self, changes: Sequence[TimeChange]) -> list[WriteResult]: ...

    def restamp(self, items: Sequence[StampChange]) -> list[WriteResult]: ...

    def delete(self, items: Sequence[ItemRef]) -> list[WriteResult]:
        """Move items the engine created to Deleted Items (never a hard delete)."""
        ...


@dataclass(frozen=True, slots=True)
class DeltaCheck:
    """A folder's first pull in a run, from its stored sync state: what a connector may ask
    ahead for many mailboxes at once (:meth:`MailboxConnector.prefetch`)."""

    address: str
    folder: FolderKind
    sync_state: str
    page_size: int
    window: tuple[datetime, datetime]


class MailboxConnector(Protocol):
    """Opens mailboxes for one configured Exchange connection."""

    def open(self, address: str) -> Mailbox: ...

    def prefetch(self, checks: Sequence[DeltaCheck]) -> None:
        """Ask the first page of these pulls ahead, together: each mailbox's
        :meth:`Mailbox.pull` then takes its answer instead of asking again."""
        ...

    def resolve(self, address: str) -> bool:
        """Whether the server knows a mailbox with this address."""
        ...

    def send_message(self, recipients: Sequence[str], subject: str, body: str) -> None:
        """Send a message from the synchronization account's own mailbox (R18)."""
        ...

    def close(self) -> None: ...

"""The mailbox over EWS, with exchangelib: one synchronization account impersonates each user.

Costs are kept to what the sync needs: folders are addressed by distinguished id (no
GetFolder round trips), pulls are SyncFolderItems pages of a few fields, bodies are fetched
only for appointments imported with full details, writes go in bulk. Throttling and
transient transport errors are retried by exchangelib's ``FaultTolerance`` within a bound;
anything beyond it becomes a :class:`MailboxError` for this user only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    CalendarItem,
    Configuration,
    Contact,
    EWSDate,
    EWSDateTime,
    ExtendedProperty,
    FaultTolerance,
    HTMLBody,
    Identity,
    Message,
    Task,
    Version,
)
from exchangelib import UTC as UTC_TZ
from exchangelib import errors as ews_errors
from exchangelib.autodiscover import Autodiscovery
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar, Contacts, FolderCollection, Tasks
from exchangelib.folders.roots import Root
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from exchangelib.items import (
    ALL_OCCURRENCES,
    ID_ONLY,
    MOVE_TO_DELETED_ITEMS,
    NEVER_OVERWRITE,
    SAVE_ONLY,
    SEND_TO_NONE,
    SHALLOW,
)
from exchangelib.properties import Body, CalendarView, ItemId
from exchangelib.services import FindItem, GetItem, SyncFolderItems, UpdateItem
from exchangelib.version import EXCHANGE_2013, EXCHANGE_2013_SP1, EXCHANGE_2016, EXCHANGE_2019

from engine.exchange.mailbox.base import (
    PRIVATE_SENSITIVITIES,
    STAMP_PROPERTY_NAME,
    STAMP_PROPERTY_SET,
    AccessDeniedError,
    ChangePage,
    ContactContent,
    Content,
    DeltaCheck,
    FolderKind,
    ForeignSyncStateError,
    ItemChange,
    ItemRef,
    MailboxError,
    MailboxItem,
    MailboxNotFoundError,
    NewItem,
    StampChange,
    SyncStateExpiredError,
    ThrottledError,
    TimeChange,
    TruncatedViewError,
    WriteError,
    WriteResult,
    calendar_digest,
    contact_digest,
    content_digest,
    ews_id,
    parse_stamp,
)
from engine.exchange.mailbox.ews_protocol import (
    ConnectionCredentials,
    ConnectionOAuth2Credentials,
    close_protocol,
    open_protocol,
)
from engine.exchange.mailbox.html_text import html_to_text
from engine.net.limits import HttpLimitError
from engine.net.origins import require_encrypted
from engine.settings.model import AuthType, ExchangeGeneral, ExchangeVersion


class PsaStamp(ExtendedProperty):
    """The PSA record key on every item the engine creates (rebuilds the id map if lost)."""

    property_set_id = STAMP_PROPERTY_SET
    property_name = STAMP_PROPERTY_NAME
    property_type = "String"


STAMP = "psa_stamp"
for _model in (CalendarItem, Contact, Task):
    if STAMP not in {field.name for field in _model.FIELDS}:
        _model.register(STAMP, PsaStamp)

_VERSIONS = {
    ExchangeVersion.EXCHANGE_2013: EXCHANGE_2013,
    ExchangeVersion.EXCHANGE_2013_SP1: EXCHANGE_2013_SP1,
    ExchangeVersion.EXCHANGE_2016: EXCHANGE_2016,
    ExchangeVersion.EXCHANGE_2019: EXCHANGE_2019,
}
_FOLDERS = {FolderKind.CALENDAR: Calendar, FolderKind.CONTACTS: Contacts, FolderKind.TASKS: Tasks}
_MODELS = {FolderKind.CALENDAR: CalendarItem, FolderKind.CONTACTS: Contact, FolderKind.TASKS: Task}
_SYNC_FIELDS = {
    FolderKind.CALENDAR: (
        "subject",
        "start",
        "end",
        "is_all_day",
        "location",
        "sensitivity",
        "categories",
        "type",
        # exchangelib turns an all-day item's times into dates in the item's own zones; not
        # read, it would take the host's (a day early east of UTC, on a host west of it).
        "_start_timezone",
        "_end_timezone",
        STAMP,
    ),
    FolderKind.CONTACTS: (
        "given_name",
        "surname",
        "company_name",
        "email_addresses",
        "phone_numbers",
        "job_title",
        STAMP,
    ),
    FolderKind.TASKS: ("subject", "start_date", "due_date", "sensitivity", "categories", STAMP),
}
_CHUNK = 25
VIEW_LIMIT = 1000
"""The most items Exchange answers to one find (EWSFindCountLimit's default): a calendar
view asks for no more, and a busier span is read in narrower ones."""
_ITEM_CHANGES = (SyncFolderItems.CREATE, SyncFolderItems.UPDATE, SyncFolderItems.DELETE)
"""What a pull reads; read-flag changes do not matter to the sync."""
_SERIES_MEMBERS = ("Occurrence", "Exception")
_SERIES_FIELDS = ("uid", "original_start")
"""What matches an occurrence to its series, and names it within (R10)."""


class _GetItem(GetItem):
    """GetItem that reports an occurrence deleted from its series as that item's result
    (it is gone), instead of failing the whole request."""

    ERRORS_TO_CATCH_IN_RESPONSE = (
        *GetItem.ERRORS_TO_CATCH_IN_RESPONSE,
        ews_errors.ErrorCalendarOccurrenceIsDeletedFromRecurrence,
        ews_errors.ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange,
    )


class _RetryPolicy(FaultTolerance):
    """exchangelib's bounded back-off, except that a refused login fails at once: exchangelib
    would otherwise retry a 401 as throttling until the bound runs out."""

    def raise_response_errors(self, response: requests.Response) -> None:
        if response.status_code == 401:
            raise ews_errors.UnauthorizedError(f"Invalid credentials for {response.url}")
        super().raise_response_errors(response)


class _CalendarView(FindItem):
    """FindItem over a CalendarView, in one request. A view has no offset to page on
    (exchangelib would ask for the same page again, for ever): Exchange answers it whole
    or cut at its find count limit, and ``whole`` says which."""

    whole = True

    def _get_paging_values(self, elem: Any) -> tuple[int, None]:
        item_count, _ = super()._get_paging_values(elem)
        self.whole = elem.get("IncludesLastItemInRange", "").lower() == "true"
        return item_count, None


class _UpdateItem(UpdateItem):
    """UpdateItem that reports a conflict (a person edited the item since our pull) as that
    item's result instead of failing the whole chunk."""

    ERRORS_TO_CATCH_IN_RESPONSE = (
        *UpdateItem.ERRORS_TO_CATCH_IN_RESPONSE,
        ews_errors.ErrorIrresolvableConflict,
    )


class EwsConnector:
    """One EWS connection (endpoint + synchronization account), shared by every mailbox."""

    def __init__(
        self,
        general: ExchangeGeneral,
        secret: str,
        endpoint: str | None = None,
        workers: int = 4,
        token_url: str | None = None,
    ) -> None:
        self.general = general
        credentials = _credentials(general, secret, token_url or general.oauth_token_url)
        with translate_errors(general.autodiscover_email or general.sync_account):
            service_endpoint = endpoint or general.ews_url or self._discover(credentials)
        require_encrypted(service_endpoint, "the EWS URL")
        version = _VERSIONS.get(general.exchange_version)
        self.config = Configuration(
            service_endpoint=service_endpoint,
            credentials=credentials,
            auth_type={AuthType.NTLM: NTLM, AuthType.BASIC: BASIC, AuthType.OAUTH2: OAUTH2}[
                general.auth_type
            ],
            version=Version(build=version) if version else None,
            retry_policy=_RetryPolicy(max_wait=general.timeout_seconds),
            max_connections=max(1, min(workers, 10)),
        )
        self.endpoint = service_endpoint
        self.protocol = open_protocol(self.config, general.http_limits())

    def _discover(self, credentials: ConnectionCredentials | ConnectionOAuth2Credentials) -> str:
        email = self.general.autodiscover_email
        if not email:
            raise MailboxError(
                "set the EWS URL or an autodiscover e-mail address on the General tab"
            )
        _, found = Autodiscovery(email=email, credentials=credentials).discover()
        # Autodiscovery cached a protocol of its own under this connection's key.
        close_protocol(found)
        return found.service_endpoint

    def open(self, address: str) -> EwsMailbox:
        return EwsMailbox(self, address)

    def resolve(self, address: str) -> bool:
        """Whether Exchange knows a mailbox with this address (ResolveNames)."""
        with translate_errors(address):
            protocol = self.protocol
            # With the version on "auto", ResolveNames needs the server's version guessed first
            # (an Account does that itself; a bare protocol call does not).
            retrying(lambda: protocol.version)
            found = retrying(lambda: protocol.resolve_names([address]))
        return any(
            not isinstance(entry, Exception)
            and (getattr(entry, "email_address", "") or "").lower() == address.lower()
            for entry in found
        )

    def send_message(self, recipients: Sequence[str], subject: str, body: str) -> None:
        """Send a plain-text message from the synchronization account's own mailbox."""
        sender = self.general.sync_account
        account = Account(
            primary_smtp_address=sender,
            config=self.config,
            autodiscover=False,
            access_type=DELEGATE,
            default_timezone=UTC_TZ,
        )
        message = Message(
            account=account, subject=subject, body=body, to_recipients=list(recipients)
        )
        with translate_errors(sender):
            retrying(message.send)

    def prefetch(self, checks: Sequence[DeltaCheck]) -> None:
        """EWS has no batch across mailboxes (SyncFolderItems names one folder): each pull
        asks for itself."""

    def close(self) -> None:
        close_protocol(self.protocol)


def _credentials(
    general: ExchangeGeneral, secret: str, token_url: str | None
) -> ConnectionCredentials | ConnectionOAuth2Credentials:
    if general.auth_type is AuthType.OAUTH2:
        if token_url:
            require_encrypted(token_url, "the token URL")
        return ConnectionOAuth2Credentials(
            client_id=general.oauth_client_id,
            client_secret=secret,
            tenant_id=general.oauth_tenant_id,
            identity=Identity(primary_smtp_address=general.sync_account),
            token_endpoint=token_url,
        )
    return ConnectionCredentials(username=general.sync_account, password=secret)


@contextmanager
def translate_errors(address: str) -> Iterator[None]:
    """exchangelib's exceptions as errors that say what to do."""
    try:
        yield
    except ews_errors.ErrorImpersonateUserDenied:
        raise AccessDeniedError(
            f"the synchronization account may not impersonate {address}: ask the Exchange"
            " administrator to grant it impersonation of this mailbox (R14)"
        ) from None
    except (
        ews_errors.ErrorNonExistentMailbox,
        ews_errors.ErrorMailRecipientNotFound,
        ews_errors.ErrorInvalidSmtpAddress,
    ):
        raise MailboxNotFoundError(
            f"Exchange has no mailbox {address}: correct the mailbox address on the Resources tab"
        ) from None
    except ews_errors.UnauthorizedError:
        raise MailboxError(
            "Exchange refused the synchronization account's credentials: check the account and"
            " its secret on the General tab"
        ) from None
    except ews_errors.ErrorInvalidSyncStateData:
        raise SyncStateExpiredError("the server no longer knows this sync state") from None
    except (
        ews_errors.ErrorServerBusy,
        ews_errors.RateLimitError,
        ews_errors.ErrorExceededConnectionCount,
    ) as error:
        raise ThrottledError(
            f"Exchange asked msext to back off ({type(error).__name__}); {address} is retried"
            " at the next run"
        ) from None
    except (ews_errors.TransportError, requests.RequestException, OSError) as error:
        raise MailboxError(f"Exchange did not answer for {address}: {error}") from None
    except HttpLimitError as error:
        raise MailboxError(f"Exchange failed for {address}: {error}") from None
    except ews_errors.ResponseMessageError as error:
        raise MailboxError(f"Exchange refused a request for {address}: {error}") from None


T = TypeVar("T")
TRANSIENT = (
    ews_errors.ErrorTimeoutExpired,
    ews_errors.ErrorExceededConnectionCount,
    requests.ConnectionError,
    ConnectionError,
)
ATTEMPTS = 3


def retrying(call: Callable[[], T]) -> T:
    """Retry a dropped connection or a connection-count refusal a few times; exchangelib
    retries those only while it may shrink its session pool. A write retried after a reset
    may land twice: reconcile removes the extra stamped copy (invariant 1)."""
    for attempt in range(ATTEMPTS):
        try:
            return call()
        except TRANSIENT:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


class EwsMailbox:
    """One user's mailbox, reached by impersonation."""

    def __init__(self, connector: EwsConnector, address: str) -> None:
        self.address = address
        self.account = Account(
            primary_smtp_address=address,
            config=connector.config,
            autodiscover=False,
            access_type=IMPERSONATION,
            default_timezone=UTC_TZ,
        )
        self._root = Root(account=self.account)
        self._known_uids: dict[str, str | None] = {}
        self._view_fields = {
            FieldPath(field=CalendarItem.get_field_by_fieldname(name))
            for name in (*_SYNC_FIELDS[FolderKind.CALENDAR], *_SERIES_FIELDS)
            if name != STAMP
        }

    def _call(self, call: Callable[[], T]) -> T:
        with translate_errors(self.address):
            return retrying(call)

    def _folder(self, kind: FolderKind) -> Any:
        """A distinguished folder addressed by id: no GetFolder round trip."""
        return _FOLDERS[kind](root=self._root)

    def check_access(self) -> None:
        self.reach(FolderKind.CALENDAR)

    def reach(self, folder: FolderKind) -> None:
        """Read one folder through impersonation (GetFolder); raises what stands in the way."""
        target = FolderCollection(account=self.account, folders=[self._folder(folder)])
        for found in self._call(lambda: list(target.resolve())):
            if isinstance(found, Exception):
                with translate_errors(self.address):
                    raise found

    def pull(
        self,
        folder: FolderKind,
        sync_state: str | None,
        page_size: int,
        window: tuple[datetime, datetime],
    ) -> Iterator[ChangePage]:
        """SyncFolderItems follows the whole folder; series are expanded by
        :meth:`occurrences`, so ``window`` is not needed here."""
        model = _MODELS[folder]
        fields = {
            FieldPath(field=model.get_field_by_fieldname(name)) for name in _SYNC_FIELDS[folder]
        }
        if sync_state and sync_state.startswith("{"):
            raise ForeignSyncStateError("the sync state was made for Microsoft Graph, not EWS")
        target = self._folder(folder).to_id()
        service = SyncFolderItems(account=self.account)
        state = sync_state
        while True:
            changes = self._call(
                lambda state=state: list(
                    service.call(
                        folder=target,
                        shape=ID_ONLY,
                        additional_fields=fields,
                        sync_state=state,
                        ignore=None,
                        max_changes_returned=page_size,
                        sync_scope=None,
                    )
                )
            )
            folded = [
                to_mailbox_item(folder, item) if change != SyncFolderItems.DELETE else item.id
                for change, item in changes
                if change in _ITEM_CHANGES
            ]
            new_state = service.sync_state
            last = bool(service.includes_last_item_in_range) or new_state == state
            yield ChangePage.fold(folded, new_state, last)
            if last:
                return
            state = new_state

    def native_id(self, item_id: str) -> str:
        return ews_id(item_id)

    def bodies(self, item_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        if not item_ids:
            return found
        items = self._call(
            lambda: list(
                self.account.fetch(
                    ids=[ItemId(id=item_id) for item_id in item_ids],
                    only_fields=["body", "sensitivity"],
                    chunk_size=_CHUNK,
                )
            )
        )
        for item_id, item in zip(item_ids, items, strict=True):
            if isinstance(item, Exception) or item.sensitivity in PRIVATE_SENSITIVITIES:
                continue
            found[item_id] = _plain_text(item.body)
        return found

    def occurrences(
        self, master_ids: Sequence[str], start: datetime, end: datetime
    ) -> list[MailboxItem]:
        """Occurrences matched to their series by iCalendar UID, which they share; one
        CalendarView of at most :data:`VIEW_LIMIT` items, refused when Exchange cut it."""
        by_uid = {uid: master_id for master_id, uid in self._uids(master_ids).items() if uid}
        if not by_uid:
            return []
        service = _CalendarView(account=self.account, page_size=VIEW_LIMIT)
        view = CalendarView(
            start=EWSDateTime.from_datetime(start),
            end=EWSDateTime.from_datetime(end),
            max_items=VIEW_LIMIT,
        )
        found = self._call(
            lambda: list(
                service.call(
                    folders=[self._folder(FolderKind.CALENDAR).to_id()],
                    additional_fields=self._view_fields,
                    restriction=None,
                    order_fields=None,
                    shape=ID_ONLY,
                    query_string=None,
                    depth=SHALLOW,
                    calendar_view=view,
                    max_items=VIEW_LIMIT,
                    offset=0,
                )
            )
        )
        if not service.whole:
            raise TruncatedViewError(
                f"Exchange answered the calendar of {self.address} from {start:%Y-%m-%d %H:%M}"
                f" to {end:%Y-%m-%d %H:%M} only in part ({VIEW_LIMIT} items)"
            )
        occurrences = []
        for item in found:
            if isinstance(item, Exception):
                with translate_errors(self.address):
                    raise item
            if item.type in _SERIES_MEMBERS and item.uid in by_uid:
                occurrence = to_mailbox_item(FolderKind.CALENDAR, item)
                occurrences.append(replace(occurrence, master_id=by_uid[item.uid]))
        return occurrences

    def follow(
        self, folder: FolderKind, item_ids: Sequence[str], master_ids: Sequence[str]
    ) -> list[MailboxItem]:
        """GetItem by id; an item whose parent is no longer the folder (Deleted Items), or
        an occurrence deleted from its series, is gone."""
        if not item_ids:
            return []
        target = FolderCollection(account=self.account, folders=[self._folder(folder)])
        (resolved,) = self._call(lambda: list(target.resolve()))
        if isinstance(resolved, Exception):
            with translate_errors(self.address):
                raise resolved
        model = _MODELS[folder]
        names = [*_SYNC_FIELDS[folder], "parent_folder_id"]
        if folder is FolderKind.CALENDAR:
            names += _SERIES_FIELDS
        fields = {FieldPath(field=model.get_field_by_fieldname(name)) for name in names}
        items = self._call(
            lambda: list(
                _GetItem(account=self.account, chunk_size=_CHUNK).call(
                    items=[ItemId(id=item_id) for item_id in item_ids],
                    additional_fields=fields,
                    shape=ID_ONLY,
                )
            )
        )
        found = [
            item
            for item in items
            if not isinstance(item, Exception)
            and item.parent_folder_id is not None
            and item.parent_folder_id.id == resolved.id
        ]
        is_member = [getattr(item, "type", None) in _SERIES_MEMBERS for item in found]
        uids = self._uids(master_ids) if any(is_member) else {}
        by_uid = {uid: master_id for master_id, uid in uids.items() if uid}
        return [
            replace(to_mailbox_item(folder, item), master_id=by_uid.get(item.uid))
            if member
            else to_mailbox_item(folder, item)
            for item, member in zip(found, is_member, strict=True)
        ]

    def _uids(self, master_ids: Sequence[str]) -> dict[str, str | None]:
        """The iCalendar UID of each series, read once per mailbox (a run views the calendar
        in several spans when it is busy)."""
        missing = [item_id for item_id in master_ids if item_id not in self._known_uids]
        if missing:
            masters = self._call(
                lambda: list(
                    self.account.fetch(
                        ids=[ItemId(id=item_id) for item_id in missing],
                        only_fields=["uid"],
                        chunk_size=_CHUNK,
                    )
                )
            )
            for item_id, master in zip(missing, masters, strict=True):
                self._known_uids[item_id] = None if isinstance(master, Exception) else master.uid
        return {item_id: self._known_uids[item_id] for item_id in master_ids}

    def create(self, items: Sequence[NewItem]) -> list[WriteResult]:
        results: list[WriteResult] = [WriteResult(None, None)] * len(items)
        for folder in FolderKind:
            indexes = [index for index, item in enumerate(items) if item.folder is folder]
            if not indexes:
                continue
            models = [
                _model(folder, items[index].content, self.account, stamp=items[index].stamp)
                for index in indexes
            ]
            answers = self._checked(
                models,
                lambda valid, folder=folder: self._call(
                    lambda: self.account.bulk_create(
                        folder=self._folder(folder),
                        items=valid,
                        send_meeting_invitations=SEND_TO_NONE,
                        chunk_size=_CHUNK,
                    )
                ),
            )
            for index, answer in zip(indexes, answers, strict=True):
                results[index] = _write_result(answer, content_digest(items[index].content, folder))
        return results

    def update(self, changes: Sequence[ItemChange]) -> list[WriteResult]:
        if not changes:
            return []
        pairs = []
        for change in changes:
            model = _model(change.folder, change.content, self.account, stamp=change.stamp)
            model.id, model.changekey = change.item_id, change.change_key
            pairs.append((model, [*_WRITTEN_FIELDS[change.folder], STAMP]))
        answers = self._update(pairs)
        return [
            _write_result(answer, content_digest(change.content, change.folder), change.item_id)
            for change, answer in zip(changes, answers, strict=True)
        ]

    def move(self, changes: Sequence[TimeChange]) -> list[WriteResult]:
        if not changes:
            return []
        pairs = [
            (
                CalendarItem(
                    account=self.account,
                    id=change.item_id,
                    changekey=change.change_key,
                    start=_ews_datetime(change.start),
                    end=_ews_datetime(change.end),
                ),
                ["start", "end"],
            )
            for change in changes
        ]
        answers = self._update(pairs)
        return [
            _write_result(answer, "", change.item_id)
            for change, answer in zip(changes, answers, strict=True)
        ]

    def restamp(self, items: Sequence[StampChange]) -> list[WriteResult]:
        """The stamp property set, or deleted (exchangelib sends DeleteItemField for
        ``None``)."""
        if not items:
            return []
        pairs = [
            (
                _MODELS[item.folder](
                    account=self.account,
                    id=item.item_id,
                    changekey=item.change_key,
                    **{STAMP: item.value},
                ),
                [STAMP],
            )
            for item in items
        ]
        # Only the stamp is sent: the item's own fields are not checked (a partial model
        # without its start would be refused by clean()).
        answers = self._send_update(pairs)
        return [
            _write_result(answer, "", item.item_id)
            for item, answer in zip(items, answers, strict=True)
        ]

    def _update(self, pairs: list[tuple[Any, list[str]]]) -> list[Any]:
        return self._checked(pairs, self._send_update, model=lambda pair: pair[0])

    def _send_update(self, pairs: list[tuple[Any, list[str]]]) -> list[Any]:
        return self._call(
            lambda: list(
                _UpdateItem(account=self.account, chunk_size=_CHUNK).call(
                    items=pairs,
                    conflict_resolution=NEVER_OVERWRITE,
                    message_disposition=SAVE_ONLY,
                    send_meeting_invitations_or_cancellations=SEND_TO_NONE,
                    suppress_read_receipts=True,
                )
            )
        )

    def _checked(
        self,
        entries: list[T],
        send: Callable[[list[T]], list[Any]],
        model: Callable[[T], Any] = lambda entry: entry,
    ) -> list[Any]:
        """Each entry's answer, in order. An item exchangelib would refuse to send (its
        clean(): a PSA record ending before it starts) answers with that refusal, as
        Exchange's own per-item errors do: exchangelib checks a chunk before sending it, so
        one bad item would otherwise fail its whole chunk, and the user, on every run."""
        refusals = [self._refusal(model(entry)) for entry in entries]
        valid = [entry for entry, refusal in zip(entries, refusals, strict=True) if not refusal]
        answers = iter(send(valid) if valid else ())
        return [refusal or next(answers) for refusal in refusals]

    def _refusal(self, model: Any) -> Exception | None:
        try:
            model.clean(version=self.account.version)
        except (ValueError, TypeError) as refused:
            return refused
        return None

    def delete(self, items: Sequence[ItemRef]) -> list[WriteResult]:
        if not items:
            return []
        answers = self._call(
            lambda: self.account.bulk_delete(
                ids=[ItemId(id=item.item_id) for item in items],
                delete_type=MOVE_TO_DELETED_ITEMS,
                send_meeting_cancellations=SEND_TO_NONE,
                affected_task_occurrences=ALL_OCCURRENCES,
                suppress_read_receipts=True,
                chunk_size=_CHUNK,
            )
        )
        return [
            _write_result(answer, "", item.item_id)
            for item, answer in zip(items, answers, strict=True)
        ]


_WRITTEN_FIELDS = {
    FolderKind.CALENDAR: [
        "subject",
        "body",
        "start",
        "end",
        "is_all_day",
        "location",
        "categories",
    ],
    FolderKind.TASKS: ["subject", "body", "start_date", "due_date", "categories"],
    FolderKind.CONTACTS: [
        "given_name",
        "surname",
        "display_name",
        "company_name",
        "email_addresses",
        "phone_numbers",
        "job_title",
        "body",
    ],
}


def _ews_datetime(moment: datetime) -> EWSDateTime:
    return EWSDateTime.from_datetime(moment.astimezone(UTC)).astimezone(UTC_TZ)


def _utc(value: Any) -> datetime | None:
    """An exchangelib date or datetime as an aware UTC datetime (dates at midnight)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return datetime.fromtimestamp(value.timestamp(), UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"not a date: {value!r}")


def _model(folder: FolderKind, content: Content, account: Account, stamp: str | None = None) -> Any:
    """The exchangelib item for projected content."""
    extra = {STAMP: stamp} if stamp else {}
    if isinstance(content, ContactContent):
        return Contact(
            account=account,
            given_name=content.given_name,
            surname=content.surname,
            display_name=f"{content.given_name} {content.surname}".strip(),
            company_name=content.company,
            email_addresses=[EmailAddress(email=content.email, label="EmailAddress1")]
            if content.email
            else None,
            phone_numbers=[PhoneNumber(label="BusinessPhone", phone_number=content.phone)]
            if content.phone
            else None,
            job_title=content.job_title,
            body=Body(content.body),
            **extra,
        )
    if folder is FolderKind.TASKS:
        return Task(
            account=account,
            subject=content.subject,
            body=Body(content.body),
            start_date=EWSDate.from_date(content.start.date()),
            due_date=EWSDate.from_date(content.end.date()),
            categories=list(content.categories),
            **extra,
        )
    if content.all_day:
        start: Any = EWSDate.from_date(content.start.date())
        end: Any = EWSDate.from_date(content.end.date())
    else:
        start, end = _ews_datetime(content.start), _ews_datetime(content.end)
    return CalendarItem(
        account=account,
        subject=content.subject,
        body=Body(content.body),
        start=start,
        end=end,
        is_all_day=content.all_day,
        location=content.location,
        categories=list(content.categories),
        legacy_free_busy_status="Busy",
        **extra,
    )


def to_mailbox_item(folder: FolderKind, item: Any) -> MailboxItem:
    """What reconcile may know of a pulled item: a private one loses all but its times."""
    stamp, owner = parse_stamp(getattr(item, STAMP, None))
    if folder is FolderKind.CONTACTS:
        email = item.email_addresses[0].email if item.email_addresses else None
        phone = next(
            (
                entry.phone_number
                for entry in item.phone_numbers or ()
                if entry.label == "BusinessPhone"
            ),
            None,
        )
        return MailboxItem(
            item_id=item.id,
            change_key=item.changekey,
            folder=folder,
            stamp=stamp,
            owner=owner,
            is_appointment=False,
            digest=contact_digest(
                item.given_name, item.surname, item.company_name, email, phone, item.job_title
            ),
        )
    private = item.sensitivity in PRIVATE_SENSITIVITIES
    if folder is FolderKind.TASKS:
        start, end, all_day, location = _utc(item.start_date), _utc(item.due_date), False, None
    else:
        start, end = _utc(item.start), _utc(item.end)
        all_day, location = bool(item.is_all_day), item.location
    categories = tuple(item.categories or ())
    return MailboxItem(
        item_id=item.id,
        change_key=item.changekey,
        folder=folder,
        stamp=stamp,
        owner=owner,
        is_appointment=folder is FolderKind.CALENDAR,
        subject=None if private else item.subject,
        location=None if private else location,
        start=start,
        end=end,
        all_day=all_day,
        private=private,
        is_master=getattr(item, "type", None) == "RecurringMaster",
        original_start=_utc(getattr(item, "original_start", None))
        if getattr(item, "type", None) in _SERIES_MEMBERS
        else None,
        digest=calendar_digest(item.subject, start, end, all_day, location, categories),
    )


def _plain_text(body: Any) -> str:
    if body is None:
        return ""
    return (html_to_text(body) if isinstance(body, HTMLBody) else str(body)).strip()


def _write_result(answer: Any, digest: str, item_id: str | None = None) -> WriteResult:
    if isinstance(answer, ews_errors.ErrorItemNotFound):
        return WriteResult(item_id, None, error=WriteError.NOT_FOUND, message=str(answer))
    if isinstance(
        answer,
        ews_errors.ErrorIrresolvableConflict
        | ews_errors.ErrorChangeKeyRequiredForWriteOperations
        | ews_errors.ErrorInvalidChangeKey,
    ):
        return WriteResult(item_id, None, error=WriteError.CONFLICT, message=str(answer))
    if isinstance(answer, Exception):
        return WriteResult(
            item_id, None, error=WriteError.REJECTED, message=f"{type(answer).__name__}: {answer}"
        )
    if answer is True:
        return WriteResult(item_id, None, digest)
    new_id, change_key = answer if isinstance(answer, tuple) else (answer.id, answer.changekey)
    return WriteResult(new_id or item_id, change_key, digest)

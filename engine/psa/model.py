"""PSA records as the engine sees them, whichever source they come from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class RecordKind(StrEnum):
    APPOINTMENT = "appointment"
    TODO = "todo"
    SERVICE_CALL = "service_call"
    CONTACT = "contact"


def record_key(kind: RecordKind, record_id: int) -> str:
    """The key that names a PSA record everywhere: state, stamps on mailbox items, events."""
    return f"{kind.value}:{record_id}"


def parse_record_key(key: str) -> tuple[RecordKind, int]:
    kind, _, number = key.partition(":")
    return RecordKind(kind), int(number)


_LINK_PATH = {
    RecordKind.APPOINTMENT: "appointments",
    RecordKind.TODO: "todos",
    RecordKind.SERVICE_CALL: "service-calls",
    RecordKind.CONTACT: "contacts",
}


def record_link(web_url: str, kind: RecordKind, record_id: int) -> str:
    """The record's page in the PSA's web UI (``psa.web_url``): mailbox items link to it
    (R15), Teams cards open it."""
    return f"{web_url.rstrip('/')}/{_LINK_PATH[kind]}/{record_id}"


@dataclass(frozen=True, slots=True)
class Resource:
    """A PSA user (resource); the unit the Exchange extension is enabled for."""

    id: int
    first_name: str
    last_name: str
    email: str
    active: bool = True

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class Company:
    id: int
    name: str
    address: str
    owner_resource_id: int | None
    """The account manager."""


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    company: Company
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    title: str | None

    @property
    def key(self) -> str:
        return record_key(RecordKind.CONTACT, self.id)


@dataclass(frozen=True, slots=True)
class Appointment:
    """A PSA calendar appointment; ``origin_key`` is set when it came from a mailbox."""

    id: int
    resource_id: int
    title: str
    description: str
    start: datetime
    end: datetime
    all_day: bool = False
    series_id: int | None = None
    origin_key: str | None = None

    @property
    def key(self) -> str:
        return record_key(RecordKind.APPOINTMENT, self.id)


@dataclass(frozen=True, slots=True)
class ToDo:
    id: int
    resource_id: int
    company: Company
    contact_name: str | None
    action_type: str
    description: str
    start: datetime
    end: datetime
    completed: datetime | None = None

    @property
    def key(self) -> str:
        return record_key(RecordKind.TODO, self.id)


@dataclass(frozen=True, slots=True)
class ServiceCall:
    id: int
    company: Company
    description: str
    start: datetime
    end: datetime
    complete: bool
    resource_ids: tuple[int, ...]
    tickets: tuple[tuple[str, str], ...] = field(default=())
    """(ticket number, title) of the tickets the call works on."""
    tasks: tuple[str, ...] = field(default=())
    """Titles of the project tasks the call works on."""

    @property
    def key(self) -> str:
        return record_key(RecordKind.SERVICE_CALL, self.id)


CalendarRecord = Appointment | ToDo | ServiceCall
PsaRecord = Appointment | ToDo | ServiceCall | Contact


@dataclass(frozen=True, slots=True)
class ImportedAppointment:
    """What the engine writes into the PSA for one mailbox appointment (R04-R06, R10)."""

    origin_key: str
    title: str
    description: str
    start: datetime
    end: datetime
    all_day: bool


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """Who is touched by PSA changes since a cursor; contact changes can touch everyone."""

    cursor: str
    resource_ids: frozenset[int]
    """Users with a changed record, and users whose records show a changed company or
    contact (a to-do's customer and contact, a service call's organization: R15), whatever
    kinds they sync."""
    contacts_changed: bool
    companies_or_opportunities_changed: bool
    changed_at: Mapping[int, datetime] = field(default_factory=dict)
    """Per user of ``resource_ids``, the earliest modification time of what touched it
    (absent when the PSA does not know it)."""
    shared_changed_at: datetime | None = None
    """The earliest modification time of the changed contacts, companies or
    opportunities, which touch every user who syncs contacts."""

    @property
    def empty(self) -> bool:
        return not (
            self.resource_ids or self.contacts_changed or self.companies_or_opportunities_changed
        )


def earliest_per_key(pairs: Iterable[tuple[int, datetime | None]]) -> dict[int, datetime]:
    """Per key, the earliest of its known times (``None`` is unknown)."""
    found: dict[int, datetime] = {}
    for key, moment in pairs:
        if moment is not None and (key not in found or moment < found[key]):
            found[key] = moment
    return found


@dataclass(frozen=True, slots=True)
class Choice:
    """A picklist value: the number the PSA stores and the label it shows."""

    value: int
    label: str


@dataclass(frozen=True, slots=True)
class Ticket:
    """A PSA service desk ticket, with what a Teams card shows of it (the REST API's
    Tickets entity: ticketNumber, title, description, companyID, contactID, status,
    priority, queueID, assignedResourceID, dueDateTime, createDate, lastActivityDate)."""

    id: int
    number: str
    """The PSA's ticket number, e.g. ``T20261202.0001``."""
    title: str
    description: str
    company: Company
    contact_name: str | None
    status: Choice
    priority: Choice
    queue: Choice | None
    primary_resource: Resource | None
    due: datetime | None
    created: datetime
    last_activity: datetime


class TicketEventKind(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    """The primary resource changed (to someone, or to no one)."""
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    DUE_SOON = "due_soon"


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """Something that happened to a ticket; ``ticket`` is how it is now."""

    kind: TicketEventKind
    ticket: Ticket
    at: datetime
    """When it happened (for due soon: when it was found due)."""
    previous: Choice | None = None
    """The status or priority before, or the primary resource before (its id and name);
    ``None`` for a ticket that had none, and for created and due soon."""
    value: Choice | None = None
    """What the change made it (the ticket may have changed again since)."""

    @property
    def dedup_key(self) -> str:
        """The same change read twice has the same key (a source returns changes again
        when the caller passes an old cursor, after a crash); due soon is one per ticket
        and due date, so a due date moved is announced again."""
        moment = self.ticket.due if self.kind is TicketEventKind.DUE_SOON else self.at
        stamp = moment.isoformat(timespec="milliseconds") if moment else "-"
        value = self.value.value if self.value else ""
        return f"ticket:{self.ticket.id}:{self.kind.value}:{value}:{stamp}"

"""The PSA read and written through its REST API: the source real deployments use.

Entities and fields are the API's (Resources, Companies, Contacts, Opportunities,
Appointments, CompanyToDos, ServiceCalls with their tickets and tasks). Two things the API
has no field for: which appointments came from a mailbox, kept in the record itself (the
last line of its description names the mailbox item, see :func:`with_origin`), and
deletions, which the API does not list: a record deleted in the PSA leaves the mailbox at
the user's next full reconcile (daily, or as soon as anything else of that user changes).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import closing, suppress
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.psa.contacts import (
    ContactValues,
    ContactWrite,
    ContactWriteError,
    PsaContact,
    require_batch,
    require_names,
    written_values,
)
from engine.psa.model import (
    Appointment,
    CalendarRecord,
    ChangeSummary,
    Company,
    Contact,
    ImportedAppointment,
    RecordKind,
    Resource,
    ServiceCall,
    TicketEvent,
    ToDo,
    earliest_per_key,
    parse_record_key,
)
from engine.psa.rest_client import (
    PAGE_SIZE,
    Filter,
    PsaNotFoundError,
    PsaRestClient,
    PsaRestError,
    every,
    iso,
    parse,
)
from engine.psa.rest_contacts import Countries, api_fields, contact_values, stored
from engine.psa.rest_tickets import SeenTickets, TicketWatch
from engine.psa.source import RecordGoneError
from engine.server_data import reads_server_data
from engine.settings.model import ContactScope

CURSOR_MARGIN = timedelta(seconds=5)
"""Changes are read from a little before the cursor: clocks differ, and a change seen
twice only costs a reconcile."""


def _in(field: str, values: Iterable[int]) -> Filter:
    return [{"op": "in", "field": field, "value": sorted(set(values))}]


def _overlapping(start: datetime, end: datetime) -> Callable[[RecordKind], Filter | None]:
    window: Filter = [
        {"op": "lt", "field": "startDateTime", "value": iso(end)},
        {"op": "gt", "field": "endDateTime", "value": iso(start)},
    ]
    return lambda kind: window


def _with_keys(keys: Collection[str]) -> Callable[[RecordKind], Filter | None]:
    """The records with these keys, kind by kind (``None``: none of that kind wanted)."""
    ids: dict[RecordKind, set[int]] = {}
    for key in keys:
        kind, record_id = parse_record_key(key)
        ids.setdefault(kind, set()).add(record_id)
    return lambda kind: _in("id", ids[kind]) if kind in ids else None


def _is(field: str, value: int) -> Filter:
    return [{"op": "eq", "field": field, "value": value}]


def _owned(owner_field: str, owner: int, condition: Filter) -> Filter:
    return [{"op": "eq", "field": owner_field, "value": owner}, *condition]


ORIGIN_TAG = "msext-origin:"
_ORIGIN = re.compile(r"(?:(.*)\n\n)?\[msext-origin: ([^\]\n]+)\]", re.DOTALL)
"""An imported appointment's description ends with ``[msext-origin: <origin key>]``."""


def with_origin(description: str, origin_key: str) -> str:
    """The description an imported appointment is written with: its text, then the mailbox
    item it came from. The API has no field of its own for it, and a record that carries
    its origin keeps it whatever happens to the engine's files: a lost state never turns
    an import into a PSA appointment that would be copied back into the mailbox."""
    marker = f"[{ORIGIN_TAG} {origin_key}]"
    return f"{description}\n\n{marker}" if description else marker


def split_origin(description: str | None) -> tuple[str, str | None]:
    """(the text, the origin key) of a description; no key for the PSA's own records."""
    text = description or ""
    found = _ORIGIN.fullmatch(text)
    if found is None:
        return text, None
    return found.group(1) or "", found.group(2)


_reads = reads_server_data("the PSA's REST API", PsaRestError)
"""Every read and write of records: a record of the wrong shape is the API's named error."""


class RestPsa:
    """A :class:`~engine.psa.source.PsaSource` over the PSA's REST API."""

    RESOURCES_FRESH_FOR = 60.0
    """Seconds a read of the resources is reused: the console asks often, they rarely change."""

    def __init__(self, client: PsaRestClient, seen_tickets: Path | None = None) -> None:
        """``seen_tickets``: the file that keeps what the open tickets looked like when last
        read (see :mod:`engine.psa.rest_tickets`); in memory without one."""
        self.client = client
        self._resources: tuple[float, list[Resource]] | None = None
        self._countries = Countries(lambda: self.client.query("Countries", every()))
        self._tickets = TicketWatch(
            client, SeenTickets(seen_tickets), self._companies, self._contact_names, self.resources
        )

    @property
    def queries(self) -> int:
        """Requests sent, for benchmarks (the embedded PSA counts statements)."""
        return self.client.requests

    def close(self) -> None:
        self.client.close()
        self._tickets.seen.close()

    @_reads
    def adopt_origin_file(self, path: Path) -> None:
        """Earlier versions kept the origins of imported appointments in a file beside the
        sync state (``psa-rest.sqlite``): write them into the records, then drop the file.
        A migration cut short is done again on the next open (a marked record is skipped)."""
        if not path.exists():
            return
        with closing(sqlite3.connect(str(path))) as db:
            origins = dict(db.execute("SELECT appointment_id, origin_key FROM imports"))
        ids = sorted(origins)
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            for item in self.client.query("Appointments", _in("id", chunk)):
                text, origin = split_origin(item["description"])
                if origin is None:
                    self._write_origin(item["id"], text, origins[item["id"]])
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    # -- reading ---------------------------------------------------------------------------

    @_reads
    def resources(self) -> list[Resource]:
        if self._resources and time.monotonic() - self._resources[0] < self.RESOURCES_FRESH_FOR:
            return list(self._resources[1])
        found = [
            Resource(i["id"], i["firstName"], i["lastName"], i["email"], i["isActive"])
            for i in self.client.query("Resources", every())
        ]
        found.sort(key=lambda r: (r.last_name, r.first_name, r.id))
        self._resources = (time.monotonic(), found)
        return list(found)

    @_reads
    def companies(self) -> list[Company]:
        found = [
            Company(
                item["id"], item["companyName"], item["address1"] or "", item["ownerResourceID"]
            )
            for item in self.client.query("Companies", every())
        ]
        return sorted(found, key=lambda company: (company.name, company.id))

    @_reads
    def usage(self) -> str:
        """The API requests this connection sent, and the hour's budget used."""
        budget = self.client.budget
        return (
            f"PSA API: {self.client.requests} requests; {budget.used:,} of {budget.limit:,}"
            " in the last hour"
        )

    def cursor(self) -> str:
        return iso(datetime.now(UTC))

    @_reads
    def changes_since(self, cursor: str) -> ChangeSummary:
        """Each touched user with the earliest modification time of what touched it (the
        entities' own last-modified fields). Nothing changed costs
        :data:`~engine.psa.budget.REST_IDLE_POLL_REQUESTS` requests."""
        since = iso((parse(cursor) or datetime.now(UTC)) - CURSOR_MARGIN)
        new_cursor = self.cursor()

        def changed(entity: str, field: str) -> dict[int, datetime | None]:
            found = self.client.query(entity, [{"op": "gte", "field": field, "value": since}])
            return {item["id"]: parse(item[field]) for item in found}

        def items(entity: str, field: str, key: str) -> list[tuple[int, datetime | None]]:
            found = self.client.query(entity, [{"op": "gte", "field": field, "value": since}])
            return [(item[key], parse(item[field])) for item in found]

        touched = items("Appointments", "updateDateTime", "resourceID")
        touched += items("CompanyToDos", "lastModifiedDate", "assignedToResourceID")
        calls = changed("ServiceCalls", "lastModifiedDateTime")
        companies = changed("Companies", "lastTrackedModifiedDateTime")
        contacts = changed("Contacts", "lastModifiedDate")
        # Records that show a changed company or contact touch their users too (R15).
        for source, field in ((companies, "companyID"), (contacts, "contactID")):
            if source:
                touched += [
                    (item["assignedToResourceID"], source[item[field]])
                    for item in self.client.query(
                        "CompanyToDos", _in(field, source), ("assignedToResourceID", field)
                    )
                ]
        if companies:
            for item in self.client.query(
                "ServiceCalls", _in("companyID", companies), ("companyID",)
            ):
                known = (calls.get(item["id"]), companies[item["companyID"]])
                calls[item["id"]] = min(filter(None, known), default=None)
        if calls:
            links = self._call_resources(calls)
            touched += [
                (resource, calls[call])
                for call, resources in links.resources.items()
                for resource in resources
            ]
        owners = companies or changed("Opportunities", "lastActivity")
        return ChangeSummary(
            cursor=new_cursor,
            resource_ids=frozenset(user for user, _ in touched),
            contacts_changed=bool(contacts),
            companies_or_opportunities_changed=bool(owners),
            changed_at=earliest_per_key(touched),
            shared_changed_at=min(
                filter(None, [*contacts.values(), *owners.values()]), default=None
            ),
        )

    @_reads
    def calendar_records(
        self, resource_id: int, start: datetime, end: datetime
    ) -> list[CalendarRecord]:
        return self._calendar(resource_id, _overlapping(start, end))

    def followed_records(self, resource_id: int, keys: Collection[str]) -> list[CalendarRecord]:
        if not keys:
            return []
        return self._calendar(resource_id, _with_keys(keys))

    def _calendar(
        self, resource_id: int, condition: Callable[[RecordKind], Filter | None]
    ) -> list[CalendarRecord]:
        """A resource's appointments, to-dos and service calls meeting ``condition``."""
        appointments = condition(RecordKind.APPOINTMENT)
        todo_filter = condition(RecordKind.TODO)
        records: list[CalendarRecord] = [
            _appointment(item)
            for item in (
                self.client.query("Appointments", _owned("resourceID", resource_id, appointments))
                if appointments is not None
                else ()
            )
        ]
        todos = (
            list(
                self.client.query(
                    "CompanyToDos", _owned("assignedToResourceID", resource_id, todo_filter)
                )
            )
            if todo_filter is not None
            else []
        )
        calls = self._service_calls(resource_id, condition(RecordKind.SERVICE_CALL))
        companies = self._companies(
            [item["companyID"] for item in todos] + [call["companyID"] for call in calls.items]
        )
        names = self._contact_names(item["contactID"] for item in todos if item["contactID"])
        records += [
            ToDo(
                id=item["id"],
                resource_id=item["assignedToResourceID"],
                company=companies[item["companyID"]],
                contact_name=names.get(item["contactID"]),
                action_type=str(item["actionType"]),
                description=item["activityDescription"] or "",
                start=parse(item["startDateTime"]),  # type: ignore[arg-type]
                end=parse(item["endDateTime"]),  # type: ignore[arg-type]
                completed=parse(item["completedDate"]),
            )
            for item in todos
        ]
        records += calls.records(companies)
        return sorted(
            records, key=lambda record: (parse_record_key(record.key)[0].value, record.id)
        )

    @_reads
    def contacts(self, resource_id: int, scope: ContactScope) -> list[Contact]:
        active: Filter = [{"op": "eq", "field": "isActive", "value": 1}]
        if scope is ContactScope.ALL:
            items = list(self.client.query("Contacts", active))
        else:
            owned = {
                item["id"]
                for item in self.client.query(
                    "Companies", [{"op": "eq", "field": "ownerResourceID", "value": resource_id}]
                )
            }
            owned |= {
                item["companyID"]
                for item in self.client.query(
                    "Opportunities",
                    [{"op": "eq", "field": "ownerResourceID", "value": resource_id}],
                )
            }
            items = (
                list(self.client.query("Contacts", _in("companyID", owned) + active))
                if owned
                else []
            )
        companies = self._companies(item["companyID"] for item in items)
        return [
            Contact(
                id=item["id"],
                company=companies[item["companyID"]],
                first_name=item["firstName"],
                last_name=item["lastName"],
                email=item["emailAddress"],
                phone=item["phone"],
                title=item["title"],
            )
            for item in sorted(items, key=lambda item: item["id"])
        ]

    # -- tickets (see engine.psa.rest_tickets for how events are found) --------------------

    @_reads
    def ticket_changes(self, cursor: str | None) -> tuple[list[TicketEvent], str]:
        return self._tickets.changes(cursor)

    @_reads
    def tickets_due(self, start: datetime, end: datetime) -> list[TicketEvent]:
        return self._tickets.due(start, end)

    # -- AD Sync's contacts (see engine.psa.rest_contacts for the entity's fields) ---------

    @_reads
    def company_contacts(self, company_id: int) -> list[PsaContact]:
        self._require_company(company_id)
        items = self.client.query("Contacts", _is("companyID", company_id))
        return [
            PsaContact(
                id=item["id"],
                company_id=item["companyID"],
                values=contact_values(item, self._countries),
                active=bool(item["isActive"]),
            )
            for item in sorted(items, key=lambda item: item["id"])
        ]

    @_reads
    def stored_values(self, values: ContactValues) -> ContactValues:
        return stored(values, self._countries)

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        """One request per write (the API has no batch write; each counts against the
        hour's budget, psa.rest_requests_per_hour), after one query that checks that the
        batch's contacts are still the company's: a batch with a contact gone is refused
        before its first write (issue 19: batches of 500)."""
        require_batch(writes)
        planned: list[tuple[ContactWrite, dict[str, str]]] = []
        for index, write in enumerate(writes):
            write = replace(write, values=self.stored_values(write.values))
            if write.contact_id is None:
                require_names(write, index)
                values = {name: value for name, value in asdict(write.values).items() if value}
            else:
                values = written_values(write)
            planned.append((write, values))
        return self._write_contacts(company_id, planned)

    @_reads
    def _write_contacts(
        self, company_id: int, planned: Sequence[tuple[ContactWrite, dict[str, str]]]
    ) -> list[int]:
        """Each write with the values it writes."""
        self._require_company(company_id)
        self._require_contacts(company_id, [write for write, _ in planned])
        parent = ("Companies", company_id)
        ids: list[int] = []
        for index, (write, values) in enumerate(planned):
            fields = api_fields(values, self._countries)
            if write.contact_id is None:
                fields |= {"companyID": company_id, "isActive": int(write.active is not False)}
                ids.append(self.client.create("Contacts", fields, parent))
                continue
            if write.active is not None:
                fields["isActive"] = int(write.active)
            if fields:
                try:
                    self.client.update("Contacts", {"id": write.contact_id, **fields}, parent)
                except PsaNotFoundError:
                    raise ContactWriteError(
                        f"contact {write.contact_id} is no longer in the PSA's company"
                        f" {company_id}: it was deleted during the run",
                        index,
                        ids,
                    ) from None
            ids.append(write.contact_id)
        return ids

    def _require_company(self, company_id: int) -> None:
        if not self.client.count("Companies", _is("id", company_id)):
            raise PsaRestError(f"the PSA has no company {company_id}")

    def _require_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> None:
        wanted = {write.contact_id for write in writes if write.contact_id is not None}
        if not wanted:
            return
        present = self._values(
            "Contacts", "id", [*_in("id", wanted), *_is("companyID", company_id)]
        )
        for index, write in enumerate(writes):
            if write.contact_id is not None and write.contact_id not in present:
                raise ContactWriteError(
                    f"contact {write.contact_id} is no longer in the PSA's company"
                    f" {company_id} (deleted or moved); nothing of its batch was written",
                    index,
                )

    # -- writing ---------------------------------------------------------------------------

    @_reads
    def save_imported(
        self, resource_id: int, appointment: ImportedAppointment, record_id: int | None = None
    ) -> int:
        """Create the appointment, or update the record it was imported as; either way the
        record carries its origin, written with it in one request."""
        fields = {
            "resourceID": resource_id,
            "title": appointment.title,
            "description": with_origin(appointment.description, appointment.origin_key),
            "startDateTime": iso(appointment.start),
            "endDateTime": iso(appointment.end),
        }
        if record_id is None:
            return self.client.create("Appointments", fields)
        try:
            return self.client.update("Appointments", {"id": record_id, **fields})
        except PsaNotFoundError:  # deleted in the PSA meanwhile: made anew
            return self.client.create("Appointments", fields)

    @_reads
    def delete_imported(self, record_id: int) -> None:
        """Delete it; one already deleted in the PSA is just as gone."""
        with suppress(PsaNotFoundError):
            self.client.delete("Appointments", record_id)

    @_reads
    def rekey_imported(self, rekey: Callable[[str], str]) -> None:
        """Rewrite the origin each imported appointment carries (one update per record)."""
        marked = [{"op": "contains", "field": "description", "value": f"[{ORIGIN_TAG} "}]
        for item in self.client.query("Appointments", marked):
            text, origin = split_origin(item["description"])
            if origin is not None and rekey(origin) != origin:
                self._write_origin(item["id"], text, rekey(origin))

    def _write_origin(self, record_id: int, text: str, origin_key: str) -> None:
        description = with_origin(text, origin_key)
        self.client.update("Appointments", {"id": record_id, "description": description})

    @_reads
    def move(self, key: str, start: datetime, end: datetime) -> None:
        kind, record_id = parse_record_key(key)
        entity = {RecordKind.APPOINTMENT: "Appointments", RecordKind.TODO: "CompanyToDos"}.get(kind)
        if entity is None:
            raise ValueError(f"only appointments and to-dos take date changes (R16), not {kind}")
        try:
            self.client.update(
                entity, {"id": record_id, "startDateTime": iso(start), "endDateTime": iso(end)}
            )
        except PsaNotFoundError:
            raise RecordGoneError(f"{key} was deleted in the PSA during the run") from None

    # -- helpers ---------------------------------------------------------------------------

    def _values(self, entity: str, field: str, filters: Filter) -> set[int]:
        return {item[field] for item in self.client.query(entity, filters, (field,))}

    def _companies(self, ids: Iterable[int]) -> dict[int, Company]:
        wanted = set(ids)
        if not wanted:
            return {}
        return {
            item["id"]: Company(
                id=item["id"],
                name=item["companyName"],
                address=item["address1"] or "",
                owner_resource_id=item["ownerResourceID"],
            )
            for item in self.client.query("Companies", _in("id", wanted))
        }

    def _contact_names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = set(ids)
        if not wanted:
            return {}
        return {
            item["id"]: f"{item['firstName']} {item['lastName']}"
            for item in self.client.query("Contacts", _in("id", wanted))
        }

    def _call_resources(self, call_ids: Iterable[int]) -> _CallLinks:
        """Service calls -> their tickets, tasks and the resources working on them."""
        links = _CallLinks()
        wanted = set(call_ids)
        for item in self.client.query("ServiceCallTickets", _in("serviceCallID", wanted)):
            links.tickets.setdefault(item["serviceCallID"], []).append(item["ticketID"])
            links.ticket_call[item["id"]] = item["serviceCallID"]
        for item in self.client.query("ServiceCallTasks", _in("serviceCallID", wanted)):
            links.tasks.setdefault(item["serviceCallID"], []).append(item["taskID"])
            links.task_call[item["id"]] = item["serviceCallID"]
        if links.ticket_call:
            for item in self.client.query(
                "ServiceCallTicketResources", _in("serviceCallTicketID", links.ticket_call)
            ):
                links.add(links.ticket_call[item["serviceCallTicketID"]], item["resourceID"])
        if links.task_call:
            for item in self.client.query(
                "ServiceCallTaskResources", _in("serviceCallTaskID", links.task_call)
            ):
                links.add(links.task_call[item["serviceCallTaskID"]], item["resourceID"])
        return links

    def _service_calls(self, resource_id: int, condition: Filter | None) -> _Calls:
        """A resource's service calls, found through the tickets and tasks it works on."""
        if condition is None:
            return _Calls([], _CallLinks(), {}, {})
        mine = [{"op": "eq", "field": "resourceID", "value": resource_id}]
        tickets = self._values("ServiceCallTicketResources", "serviceCallTicketID", mine)
        tasks = self._values("ServiceCallTaskResources", "serviceCallTaskID", mine)
        call_ids: set[int] = set()
        if tickets:
            call_ids |= self._values("ServiceCallTickets", "serviceCallID", _in("id", tickets))
        if tasks:
            call_ids |= self._values("ServiceCallTasks", "serviceCallID", _in("id", tasks))
        if not call_ids:
            return _Calls([], _CallLinks(), {}, {})
        items = sorted(
            self.client.query("ServiceCalls", [*_in("id", call_ids), *condition]),
            key=lambda item: item["id"],
        )
        links = self._call_resources(item["id"] for item in items) if items else _CallLinks()
        ticket_ids = [t for ids in links.tickets.values() for t in ids]
        task_ids = [t for ids in links.tasks.values() for t in ids]
        numbers = {
            i["id"]: (i["ticketNumber"], i["title"])
            for i in (self.client.query("Tickets", _in("id", ticket_ids)) if ticket_ids else ())
        }
        titles = {
            i["id"]: i["title"]
            for i in (self.client.query("Tasks", _in("id", task_ids)) if task_ids else ())
        }
        return _Calls(items, links, numbers, titles)


def _appointment(item: dict[str, Any]) -> Appointment:
    description, origin = split_origin(item["description"])
    return Appointment(
        id=item["id"],
        resource_id=item["resourceID"],
        title=item["title"] or "",
        description=description,
        start=parse(item["startDateTime"]),  # type: ignore[arg-type]
        end=parse(item["endDateTime"]),  # type: ignore[arg-type]
        origin_key=origin,
    )


class _CallLinks:
    def __init__(self) -> None:
        self.tickets: dict[int, list[int]] = {}
        self.tasks: dict[int, list[int]] = {}
        self.ticket_call: dict[int, int] = {}
        self.task_call: dict[int, int] = {}
        self.resources: dict[int, set[int]] = {}

    def add(self, call_id: int, resource_id: int) -> None:
        self.resources.setdefault(call_id, set()).add(resource_id)

    def keys_resources(self) -> set[int]:
        return {resource for resources in self.resources.values() for resource in resources}


class _Calls:
    def __init__(
        self,
        items: list[dict[str, Any]],
        links: _CallLinks,
        tickets: dict[int, tuple[str, str]],
        tasks: dict[int, str],
    ) -> None:
        self.items = items
        self.links = links
        self.tickets = tickets
        self.tasks = tasks

    def records(self, companies: dict[int, Company]) -> list[ServiceCall]:
        return [
            ServiceCall(
                id=item["id"],
                company=companies[item["companyID"]],
                description=item["description"] or "",
                start=parse(item["startDateTime"]),  # type: ignore[arg-type]
                end=parse(item["endDateTime"]),  # type: ignore[arg-type]
                complete=bool(item["isComplete"]),
                resource_ids=tuple(sorted(self.links.resources.get(item["id"], ()))),
                tickets=tuple(
                    sorted(self.tickets[t] for t in self.links.tickets.get(item["id"], ()))
                ),
                tasks=tuple(sorted(self.tasks[t] for t in self.links.tasks.get(item["id"], ()))),
            )
            for item in self.items
        ]

"""The embedded PSA's tables as the REST API's entities, with the API's own field names.

Each entity reads its rows straight from the embedded PSA's SQLite file, so the REST peer
and the embedded source always show the same records. Times are ISO 8601 in UTC, as the
API writes them; the last-modified fields come from each row's ``modified_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from engine.psa.embedded import EmbeddedPsa
from engine.psa.rest_tickets import TICKET_FIELDS
from engine.psa.tickets import TICKET_PRIORITIES, TICKET_QUEUES, TICKET_STATUSES
from engine.sandbox.psa_rest.countries import COUNTRIES, country_id

Item = dict[str, Any]


def iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def iso_ms(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{milliseconds % 1000:03d}Z"


def _resources(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "firstName": row["first_name"],
            "lastName": row["last_name"],
            "email": row["email"],
            "isActive": bool(row["active"]),
        }
        for row in psa._rows("SELECT * FROM resources ORDER BY id")
    ]


def _companies(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "companyName": row["name"],
            "address1": row["address"],
            "ownerResourceID": row["owner_resource_id"],
            "lastTrackedModifiedDateTime": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM companies ORDER BY id")
    ]


def _contacts(psa: EmbeddedPsa) -> list[Item]:
    """The entity has no department; its country is an id of Countries."""
    return [
        {
            "id": row["id"],
            "companyID": row["company_id"],
            "firstName": row["first_name"],
            "middleInitial": row["middle_name"] or None,
            "lastName": row["last_name"],
            "emailAddress": row["email"],
            "phone": row["phone"],
            "mobilePhone": row["mobile_phone"] or None,
            "title": row["title"],
            "addressLine": row["street"] or None,
            "city": row["city"] or None,
            "state": row["state"] or None,
            "zipCode": row["postal_code"] or None,
            "countryID": country_id(row["country"]),
            "isActive": row["active"],
            "lastModifiedDate": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM contacts ORDER BY id")
    ]


def _opportunities(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "companyID": row["company_id"],
            "ownerResourceID": row["owner_resource_id"],
            "title": row["title"],
            "lastActivity": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM opportunities ORDER BY id")
    ]


def _appointments(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "resourceID": row["resource_id"],
            "title": row["title"],
            "description": row["description"],
            "startDateTime": iso(row["start"]),
            "endDateTime": iso(row["end"]),
            "updateDateTime": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM appointments ORDER BY id")
    ]


def _todos(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "assignedToResourceID": row["resource_id"],
            "companyID": row["company_id"],
            "contactID": row["contact_id"],
            "actionType": row["action_type"],
            "activityDescription": row["description"],
            "startDateTime": iso(row["start"]),
            "endDateTime": iso(row["end"]),
            "completedDate": iso(row["completed"]),
            "lastModifiedDate": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM todos ORDER BY id")
    ]


def _service_calls(psa: EmbeddedPsa) -> list[Item]:
    return [
        {
            "id": row["id"],
            "companyID": row["company_id"],
            "description": row["description"],
            "startDateTime": iso(row["start"]),
            "endDateTime": iso(row["end"]),
            "isComplete": bool(row["complete"]),
            "lastModifiedDateTime": iso_ms(row["modified_ms"]),
        }
        for row in psa._rows("SELECT * FROM service_calls ORDER BY id")
    ]


def _tickets(psa: EmbeddedPsa) -> list[Item]:
    """Tickets, including those of service calls (a call's ticket is a ticket)."""
    rows = psa._rows("SELECT * FROM tickets ORDER BY id")
    return [
        dict(
            zip(
                TICKET_FIELDS,
                (
                    row["id"],
                    row["ticket_number"],
                    row["title"],
                    row["description"] or None,
                    row["company_id"],
                    row["contact_id"],
                    row["status"],
                    row["priority"],
                    row["queue_id"],
                    row["resource_id"],
                    iso(row["due"]),
                    iso(row["created"]),
                    iso_ms(row["modified_ms"]),
                ),
                strict=True,
            )
        )
        for row in rows
    ]


def _service_call_tickets(psa: EmbeddedPsa) -> list[Item]:
    return [
        {"id": row["rowid"], "serviceCallID": row["service_call_id"], "ticketID": row["ticket_id"]}
        for row in psa._rows(
            "SELECT s.rowid, s.service_call_id, t.id AS ticket_id FROM service_call_tickets s"
            " JOIN tickets t ON t.ticket_number = s.ticket_number ORDER BY s.rowid"
        )
    ]


def _service_call_ticket_resources(psa: EmbeddedPsa) -> list[Item]:
    """A call's resources work on each of its tickets."""
    return [
        {"id": index, "serviceCallTicketID": row["ticket_id"], "resourceID": row["resource_id"]}
        for index, row in enumerate(
            psa._rows(
                "SELECT t.rowid AS ticket_id, r.resource_id FROM service_call_tickets t"
                " JOIN service_call_resources r ON r.service_call_id = t.service_call_id"
                " ORDER BY t.rowid, r.resource_id"
            ),
            start=1,
        )
    ]


def _tasks(psa: EmbeddedPsa) -> list[Item]:
    return [
        {"id": row["rowid"], "title": row["title"]}
        for row in psa._rows("SELECT rowid, * FROM service_call_tasks ORDER BY rowid")
    ]


def _service_call_tasks(psa: EmbeddedPsa) -> list[Item]:
    return [
        {"id": row["rowid"], "serviceCallID": row["service_call_id"], "taskID": row["rowid"]}
        for row in psa._rows("SELECT rowid, * FROM service_call_tasks ORDER BY rowid")
    ]


def _service_call_task_resources(psa: EmbeddedPsa) -> list[Item]:
    return [
        {"id": index, "serviceCallTaskID": row["task_id"], "resourceID": row["resource_id"]}
        for index, row in enumerate(
            psa._rows(
                "SELECT t.rowid AS task_id, r.resource_id FROM service_call_tasks t"
                " JOIN service_call_resources r ON r.service_call_id = t.service_call_id"
                " ORDER BY t.rowid, r.resource_id"
            ),
            start=1,
        )
    ]


READERS: dict[str, Callable[[EmbeddedPsa], list[Item]]] = {
    "Countries": lambda psa: COUNTRIES,
    "Resources": _resources,
    "Companies": _companies,
    "Contacts": _contacts,
    "Opportunities": _opportunities,
    "Appointments": _appointments,
    "CompanyToDos": _todos,
    "ServiceCalls": _service_calls,
    "Tickets": _tickets,
    "ServiceCallTickets": _service_call_tickets,
    "ServiceCallTicketResources": _service_call_ticket_resources,
    "Tasks": _tasks,
    "ServiceCallTasks": _service_call_tasks,
    "ServiceCallTaskResources": _service_call_task_resources,
}
"""Entity name as the API spells it -> its items."""
FIELDS: dict[str, tuple[str, ...]] = {"Tickets": TICKET_FIELDS}
"""Entities whose fields are known without a record: their filters are checked even when
there is nothing to read."""
PICKLISTS: dict[str, dict[str, Mapping[int, str]]] = {
    "Tickets": {"status": TICKET_STATUSES, "priority": TICKET_PRIORITIES, "queueID": TICKET_QUEUES}
}
"""The picklists ``{entity}/entityInformation/fields`` lists."""


def field_information(entity: str) -> list[Item]:
    """An entity's fields as ``entityInformation/fields`` describes them: picklists with
    their values (strings, as the API gives them) and labels."""
    picklists = PICKLISTS[entity]
    return [
        {
            "name": name,
            "isPickList": name in picklists,
            "isQueryable": True,
            "picklistValues": [
                {
                    "value": str(value),
                    "label": label,
                    "isDefaultValue": False,
                    "sortOrder": order,
                    "parentValue": "",
                    "isActive": True,
                    "isSystem": True,
                }
                for order, (value, label) in enumerate(picklists[name].items())
            ]
            if name in picklists
            else None,
        }
        for name in FIELDS[entity]
    ]

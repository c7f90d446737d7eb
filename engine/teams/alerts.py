"""The events notification rules react to, each with its card: what the rule's conditions
look at (queue, priority, organization), and a key that names the event for good, so that
seeing it again posts nothing twice.

msext's own events come from the happenings the other modules publish (``engine.events``):
a user's sync error, a held mass deletion, AD sync conflicts and failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.events import Happening, HappeningKind
from engine.psa.model import RecordKind, ServiceCall, TicketEvent, TicketEventKind, record_link
from engine.settings.teams import TeamsEvent
from engine.teams.cards import Card, card, names, when


@dataclass(frozen=True)
class Alert:
    """One event that rules may post: its card goes to the channels of every matching rule."""

    event: TeamsEvent
    key: str
    card: Card
    queue: str | None = None
    priority: str | None = None
    organization_id: int | None = None


HAPPENING_EVENTS = {
    HappeningKind.SYNC_ERROR: TeamsEvent.SYNC_ERROR,
    HappeningKind.MASS_DELETION_HELD: TeamsEvent.MASS_DELETION_HELD,
    HappeningKind.ADSYNC_CONFLICT: TeamsEvent.ADSYNC_CONFLICT,
    HappeningKind.ADSYNC_FAILURE: TeamsEvent.ADSYNC_FAILURE,
}
HEADINGS = {
    TeamsEvent.TICKET_CREATED: "New ticket",
    TeamsEvent.TICKET_ASSIGNED: "Ticket assigned",
    TeamsEvent.TICKET_STATUS_CHANGED: "Ticket status changed",
    TeamsEvent.TICKET_PRIORITY_CHANGED: "Ticket priority changed",
    TeamsEvent.TICKET_DUE_SOON: "Ticket due soon",
    TeamsEvent.SERVICE_CALL_CREATED: "New service call",
    TeamsEvent.SERVICE_CALL_RESCHEDULED: "Service call rescheduled",
    TeamsEvent.SERVICE_CALL_RESOURCES_CHANGED: "Service call resources changed",
    TeamsEvent.SYNC_ERROR: "MS Exchange sync error",
    TeamsEvent.MASS_DELETION_HELD: "Mass deletion held",
    TeamsEvent.ADSYNC_CONFLICT: "AD sync conflicts",
    TeamsEvent.ADSYNC_FAILURE: "AD sync failed",
}
"""Each event as a card's heading and the console's Rules tab name it."""


def happening_alert(happening: Happening) -> Alert:
    """A published happening as its event and card."""
    event = HAPPENING_EVENTS[happening.kind]
    return Alert(
        event=event,
        key=happening.key,
        card=card(
            HEADINGS[event],
            happening.subject,
            facts=(*happening.facts, ("When", when(happening.at))),
            text=happening.message,
            attention=True,
        ),
        organization_id=happening.organization_id,
    )


TICKET_EVENTS = {
    TicketEventKind.CREATED: TeamsEvent.TICKET_CREATED,
    TicketEventKind.ASSIGNED: TeamsEvent.TICKET_ASSIGNED,
    TicketEventKind.STATUS_CHANGED: TeamsEvent.TICKET_STATUS_CHANGED,
    TicketEventKind.PRIORITY_CHANGED: TeamsEvent.TICKET_PRIORITY_CHANGED,
    TicketEventKind.DUE_SOON: TeamsEvent.TICKET_DUE_SOON,
}


def ticket_link(web_url: str, ticket_id: int) -> str:
    """The ticket's page in the PSA's web UI (``psa.web_url``)."""
    return f"{web_url.rstrip('/')}/tickets/{ticket_id}"


def ticket_alert(change: TicketEvent, web_url: str) -> Alert:
    """A ticket event and its card: number, event, title, organization and contact,
    description, primary resource or queue, priority, status, due date, and a button that
    opens the ticket in the PSA."""
    ticket = change.ticket
    event = TICKET_EVENTS[change.kind]
    facts = [
        ("Ticket", ticket.number),
        ("Event", _ticket_change(change)),
        ("Organization", ticket.company.name),
        ("Contact", ticket.contact_name or ""),
    ]
    if ticket.primary_resource is not None:
        facts.append(("Primary resource", ticket.primary_resource.name))
    else:
        facts.append(("Queue", ticket.queue.label if ticket.queue else "none"))
    facts += [
        ("Priority", ticket.priority.label),
        ("Status", ticket.status.label),
        ("Due", when(ticket.due) or "none"),
    ]
    return Alert(
        event=event,
        key=change.dedup_key,
        card=card(
            f"{HEADINGS[event]}: {ticket.number}",
            ticket.title,
            facts=facts,
            text=ticket.description,
            link=("Open ticket in the PSA", ticket_link(web_url, ticket.id)),
        ),
        queue=ticket.queue.label if ticket.queue else None,
        priority=ticket.priority.label,
        organization_id=ticket.company.id,
    )


def _ticket_change(change: TicketEvent) -> str:
    """The event in words, with what it was before."""
    ticket, previous = change.ticket, change.previous
    before = previous.label if previous else "none"
    match change.kind:
        case TicketEventKind.CREATED:
            return f"created {when(ticket.created)}"
        case TicketEventKind.ASSIGNED:
            now = ticket.primary_resource.name if ticket.primary_resource else "no one"
            return f"assigned to {now} (was {before})"
        case TicketEventKind.STATUS_CHANGED:
            return f"status {before} -> {ticket.status.label}"
        case TicketEventKind.PRIORITY_CHANGED:
            return f"priority {before} -> {ticket.priority.label}"
    return f"due {when(ticket.due)}"


def service_call_alert(
    event: TeamsEvent,
    call: ServiceCall,
    people: Mapping[int, str],
    web_url: str,
    before: str = "",
) -> Alert:
    """A service call event and its card; ``people`` names resources by id, ``before``
    says what the call was (the old time or resources)."""
    resources = names(
        people.get(resource_id, f"resource {resource_id}") for resource_id in call.resource_ids
    )
    facts = [
        ("Organization", call.company.name),
        ("Start", when(call.start)),
        ("End", when(call.end)),
        ("Resources", resources or "none"),
        ("Was", before),
        ("Tickets", names(f"{number} {title}" for number, title in call.tickets)),
        ("Tasks", names(call.tasks)),
    ]
    return Alert(
        event=event,
        key=f"{call.key}:{event.value}:{call.start:%Y%m%dT%H%M}-{call.end:%Y%m%dT%H%M}:"
        + ",".join(map(str, sorted(call.resource_ids))),
        card=card(
            HEADINGS[event],
            call.description.splitlines()[0]
            if call.description.strip()
            else f"Service call {call.id}",
            facts=facts,
            text=call.description,
            link=(
                "Open service call in the PSA",
                record_link(web_url, RecordKind.SERVICE_CALL, call.id),
            ),
        ),
        organization_id=call.company.id,
    )

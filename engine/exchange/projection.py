"""How a record looks on the other side: PSA record -> mailbox item, mailbox item -> PSA.

R15: every PSA calendar item (appointment, to-do, service call) becomes a mailbox
appointment with title, start and end; service calls carry their location; whatever has no
field of its own goes into the body as readable text, with a link to the PSA record.
R05/R06/R10: mailbox appointments reach the PSA with full details, without details, or -
when private - only as "Appointment" with date and time; occurrences of a series arrive as
single appointments without a series link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.exchange.mailbox.base import (
    CalendarContent,
    ContactContent,
    Content,
    FolderKind,
    MailboxItem,
)
from engine.psa.model import (
    Appointment,
    Contact,
    ImportedAppointment,
    PsaRecord,
    RecordKind,
    ServiceCall,
    ToDo,
    record_link,
)
from engine.settings.model import ImportMode, TodoFolder

PRIVATE_TITLE = "Appointment"
"""R05: the only title a private mailbox appointment has in the PSA (German: "Termin")."""
MAX_SUBJECT = 255
CATEGORY = {
    RecordKind.APPOINTMENT: "PSA appointment",
    RecordKind.TODO: "PSA to-do",
    RecordKind.SERVICE_CALL: "PSA service call",
}


@dataclass(frozen=True, slots=True)
class Projection:
    """A PSA record as the mailbox should hold it."""

    key: str
    kind: RecordKind
    folder: FolderKind
    content: Content


def project(record: PsaRecord, web_url: str, todo_folder: TodoFolder) -> Projection:
    """The mailbox item for a PSA record."""
    match record:
        case Appointment():
            return _calendar(
                record.key,
                RecordKind.APPOINTMENT,
                FolderKind.CALENDAR,
                subject=record.title,
                lines=[record.description],
                record=record,
                web_url=web_url,
            )
        case ToDo():
            first_line = record.description.strip().splitlines()[0] if record.description else ""
            lines = [
                f"Customer: {record.company.name}",
                f"Contact: {record.contact_name}" if record.contact_name else "",
                f"Action type: {record.action_type}",
                f"Completed: {record.completed:%Y-%m-%d}" if record.completed else "",
                "",
                record.description,
            ]
            folder = FolderKind.TASKS if todo_folder is TodoFolder.TASKS else FolderKind.CALENDAR
            subject = f"{record.action_type}: {first_line}" if first_line else record.action_type
            return _calendar(record.key, RecordKind.TODO, folder, subject, lines, record, web_url)
        case ServiceCall():
            lines = [f"Organization: {record.company.name}"]
            if record.tickets:
                lines += ["Tickets:", *(f"  {number} {title}" for number, title in record.tickets)]
            if record.tasks:
                lines += ["Tasks:", *(f"  {title}" for title in record.tasks)]
            lines += [
                f"Status: {'complete' if record.complete else 'open'}",
                "",
                record.description,
            ]
            return _calendar(
                record.key,
                RecordKind.SERVICE_CALL,
                FolderKind.CALENDAR,
                f"Service call: {record.company.name}",
                lines,
                record,
                web_url,
                location=record.company.address,
            )
        case Contact():
            return Projection(
                key=record.key,
                kind=RecordKind.CONTACT,
                folder=FolderKind.CONTACTS,
                content=ContactContent(
                    given_name=record.first_name,
                    surname=record.last_name,
                    company=record.company.name,
                    email=record.email,
                    phone=record.phone,
                    job_title=record.title,
                    body=f"Open in the PSA: {record_link(web_url, RecordKind.CONTACT, record.id)}",
                ),
            )
    raise TypeError(f"no projection for {type(record).__name__}")


def _calendar(
    key: str,
    kind: RecordKind,
    folder: FolderKind,
    subject: str,
    lines: list[str],
    record: Appointment | ToDo | ServiceCall,
    web_url: str,
    location: str | None = None,
) -> Projection:
    text = "\n".join(lines).strip()
    link = f"Open in the PSA: {record_link(web_url, kind, record.id)}"
    return Projection(
        key=key,
        kind=kind,
        folder=folder,
        content=CalendarContent(
            subject=subject[:MAX_SUBJECT],
            body=f"{text}\n\n{link}" if text else link,
            start=record.start,
            end=record.end,
            all_day=getattr(record, "all_day", False),
            location=location or None,
            categories=(CATEGORY[kind],),
        ),
    )


def origin_key(item: MailboxItem) -> str:
    """The key an imported appointment carries in the PSA: its item, or its series and the
    start the pattern gave the occurrence, which stays when a person moves it (R10, R16)."""
    moment = item.original_start or item.start
    if item.master_id and moment:
        return f"{item.master_id}@{moment.isoformat()}"
    return item.item_id


def rekey_origin(key: str, native_id: Callable[[str], str]) -> str:
    """An origin key with its item id renamed (the time of an occurrence stays)."""
    item_id, at, start = key.partition("@")
    return native_id(item_id) + at + start


def import_projection(item: MailboxItem, mode: ImportMode) -> ImportedAppointment:
    """What the PSA receives for a person's mailbox appointment (R05, R06, R10)."""
    assert item.start is not None and item.end is not None
    if item.private:
        title, description = PRIVATE_TITLE, ""
    elif mode is ImportMode.WITHOUT_DETAILS:
        title, description = item.subject or PRIVATE_TITLE, ""
    else:
        title = item.subject or PRIVATE_TITLE
        parts = [item.body or ""]
        if item.location:
            parts.insert(0, f"Location: {item.location}")
        description = "\n\n".join(part for part in parts if part).strip()
    return ImportedAppointment(
        origin_key=origin_key(item),
        title=title[:MAX_SUBJECT],
        description=description,
        start=item.start,
        end=item.end,
        all_day=item.all_day,
    )

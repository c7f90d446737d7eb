"""A small model of both sides for testing ``reconcile`` on its own.

The PSA and the mailbox are dictionaries; ``step`` pulls (the mirror is the mailbox as it
is), plans, and applies the plan the way the runner does. It models the two stores so that
properties of the pure decision step can be checked over long generated histories; the
real runner is proven end to end against the EWS emulator in ``tests/e2e``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from engine.exchange.mailbox.base import (
    CalendarContent,
    FolderKind,
    MailboxItem,
    calendar_digest,
    content_digest,
)
from engine.exchange.projection import CATEGORY, Projection, origin_key, project
from engine.exchange.reconcile import (
    Action,
    ImportedRecord,
    Link,
    Plan,
    Policy,
    PsaSide,
    Verb,
    full_hash,
    import_hash,
    reconcile,
)
from engine.exchange.rules import Origin
from engine.exchange.runner import followed_links
from engine.psa.model import (
    Appointment,
    Company,
    Contact,
    ImportedAppointment,
    PsaRecord,
    ServiceCall,
    ToDo,
    parse_record_key,
)
from engine.settings.model import ImportMode, TodoFolder

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
WEB = "https://psa.example.com"
COMPANY = Company(1, "Alpine Dental", "1 Main Street", 3)


def policy(mode: ImportMode = ImportMode.FULL, allow: bool = False) -> Policy:
    return Policy(mode, T0 - timedelta(days=30), T0 + timedelta(days=90), 50, allow)


def appointment(record_id: int, hours: int = 0, title: str = "Review") -> Appointment:
    start = T0 + timedelta(hours=hours)
    return Appointment(record_id, 7, title, "Agenda.", start, start + timedelta(hours=1))


def todo(record_id: int, hours: int = 0) -> ToDo:
    start = T0 + timedelta(hours=hours)
    return ToDo(
        record_id,
        7,
        COMPANY,
        "Nora Weber",
        "Phone call",
        "Call back.",
        start,
        start + timedelta(minutes=30),
    )


def service_call(record_id: int, hours: int = 0) -> ServiceCall:
    start = T0 + timedelta(hours=hours)
    return ServiceCall(
        record_id,
        COMPANY,
        "On-site.",
        start,
        start + timedelta(hours=2),
        False,
        (7,),
        (("T1.1", "Printer offline"),),
        ("Upgrade",),
    )


def contact(record_id: int, last: str = "Weber") -> Contact:
    return Contact(record_id, COMPANY, "Nora", last, "nora@customer.example", "+1 555", None)


@dataclass
class World:
    """Both sides and the engine's state for one user."""

    mode: ImportMode = ImportMode.FULL
    psa: dict[str, PsaRecord] = field(default_factory=dict)
    imported: dict[str, tuple[int, ImportedAppointment]] = field(default_factory=dict)
    mailbox: dict[str, MailboxItem] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    log: list[tuple[Verb, str | None, str | None]] = field(default_factory=list)
    allow_mass_delete: bool = False
    windowed: bool = False
    """Read both sides as the runner does over Graph: only inside the window, and what the
    links follow by id."""
    persons: set[str] = field(default_factory=set)
    """Items a person made from the engine's (copies): never the engine's to delete."""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # -- what people do --------------------------------------------------------------------

    def psa_put(self, record: PsaRecord) -> None:
        self.psa[record.key] = record

    def person_creates(self, subject: str, hours: int, private: bool = False) -> str:
        item_id = f"person-{next(self._ids)}"
        start = T0 + timedelta(hours=hours)
        self.mailbox[item_id] = calendar_item(
            item_id, None, subject, start, start + timedelta(hours=1), private=private
        )
        return item_id

    def person_edits(self, item_id: str, **changes: object) -> None:
        """A person changes an item in Outlook: a new change key, a new digest."""
        item = self.mailbox[item_id]
        updated = replace(item, change_key=f"ck-{next(self._ids)}", **changes)
        self.mailbox[item_id] = replace(updated, digest=_digest(updated))

    def person_deletes(self, item_id: str) -> None:
        del self.mailbox[item_id]

    def person_copies(self, item_id: str, start: datetime) -> str:
        """A copy made in Outlook keeps the stamp; the person makes it another meeting."""
        copy_id = f"copy-{next(self._ids)}"
        item = self.mailbox[item_id]
        copy = replace(item, item_id=copy_id, subject="Offsite", start=start)
        self.mailbox[copy_id] = replace(copy, end=start + timedelta(hours=1))
        self.person_edits(copy_id)
        self.persons.add(copy_id)
        return copy_id

    # -- the engine ------------------------------------------------------------------------

    def side(self) -> PsaSide:
        """The PSA as the runner reads it: with ``windowed``, the records inside the window
        and those a link follows."""
        window = policy(self.mode)
        followed = {link.key for link in followed_links(self.links, window)}

        def read(key: str, start: datetime | None, end: datetime | None) -> bool:
            return not self.windowed or window.in_window(start, end) or key in followed

        projections = {
            key: project(record, WEB, TodoFolder.CALENDAR)
            for key, record in self.psa.items()
            if read(key, getattr(record, "start", None), getattr(record, "end", None))
        }
        imported = {
            okey: ImportedRecord(f"appointment:{record_id}", okey, value.start, value.end)
            for okey, (record_id, value) in self.imported.items()
            if read(f"appointment:{record_id}", value.start, value.end)
        }
        return PsaSide(projections, imported)

    def mirror(self) -> dict[str, MailboxItem]:
        """The mailbox as a pull reports it: with ``windowed``, as Graph's calendarView delta
        does (the items inside the window), and the items a link follows by id."""
        if not self.windowed:
            return dict(self.mailbox)
        window = policy(self.mode)
        followed = {link.item_id for link in followed_links(self.links, window)}
        return {
            item_id: item
            for item_id, item in self.mailbox.items()
            if window.in_window(item.start, item.end) or item_id in followed
        }

    def plan(self) -> Plan:
        return reconcile(
            self.side(),
            self.mirror(),
            dict(self.links),
            policy(self.mode, self.allow_mass_delete),
        )

    def step(self) -> Plan:
        plan = self.plan()
        for action in plan.actions:
            self.log.append((action.verb, action.key, action.item_id))
            self._apply(action)
        return plan

    def _apply(self, action: Action) -> None:
        match action.verb:
            case Verb.CREATE:
                item_id = f"engine-{next(self._ids)}"
                self.mailbox[item_id] = _written(item_id, action.projection)
                self._link(action.projection, self.mailbox[item_id])
            case Verb.UPDATE:
                current = self.mailbox.get(action.item_id)
                if current is None or current.change_key != action.change_key:
                    return
                written = _written(action.item_id, action.projection)
                self.mailbox[action.item_id] = written
                self._link(action.projection, written)
            case Verb.DELETE:
                item = self.mailbox.pop(action.item_id)
                assert item.stamp is not None, "the engine deleted a person's item"
                assert action.item_id not in self.persons, "the engine deleted a person's copy"
                if action.key in self.links and self.links[action.key].item_id == action.item_id:
                    del self.links[action.key]
            case Verb.ADOPT | Verb.REFRESH:
                self._link(action.projection, self.mailbox[action.item_id])
            case Verb.PSA_MOVE:
                start, end = action.time
                record = self.psa[action.key]
                self.psa[action.key] = replace(record, start=start, end=end)
                self._link(action.projection, self.mailbox[action.item_id])
            case Verb.IMPORT:
                value = action.imported
                for okey, (rid, _) in list(self.imported.items()):
                    if f"appointment:{rid}" == action.key and okey != value.origin_key:
                        # The record it was imported as takes the item's new origin key.
                        self.imported[value.origin_key] = self.imported.pop(okey)
                # Imported appointments share the PSA's appointment ids: keep them apart
                # from the ids the generated PSA records use.
                fresh = 1000 + next(self._ids)
                record_id = self.imported.get(value.origin_key, (fresh, None))[0]
                self.imported[value.origin_key] = (record_id, value)
                item = self.mailbox[action.item_id]
                self.links[f"appointment:{record_id}"] = Link(
                    f"appointment:{record_id}",
                    Origin.MAILBOX,
                    item.item_id,
                    item.change_key,
                    FolderKind.CALENDAR,
                    item.digest,
                    import_hash(value),
                    value.start,
                    value.end,
                )
            case Verb.UNIMPORT:
                okey = next(
                    k for k, (rid, _) in self.imported.items() if f"appointment:{rid}" == action.key
                )
                del self.imported[okey]
                del self.links[action.key]
            case Verb.ITEM_MOVE:
                item = self.mailbox[action.item_id]
                assert item.stamp is None
                start, end = action.time
                self.person_edits(action.item_id, start=start, end=end)
                link = self.links[action.key]
                self.links[action.key] = replace(
                    link,
                    change_key=self.mailbox[action.item_id].change_key,
                    start=start,
                    end=end,
                    psa_hash=import_hash(action.imported),
                )
            case Verb.UNSTAMP:
                item = self.mailbox[action.item_id]
                if item.change_key == action.change_key:
                    self.mailbox[action.item_id] = replace(
                        item, stamp=None, change_key=f"ck-{next(self._ids)}"
                    )
            case Verb.FORGET:
                self.links.pop(action.key, None)
            case Verb.DETACH:
                self.links[action.key] = replace(self.links[action.key], detached=True)
            case Verb.REATTACH:
                self.links[action.key] = replace(self.links[action.key], detached=False)
            case Verb.CONFLICT:
                pass

    def _link(self, projection: Projection, item: MailboxItem) -> None:
        content = projection.content
        calendar = isinstance(content, CalendarContent)
        self.links[projection.key] = Link(
            projection.key,
            Origin.PSA,
            item.item_id,
            item.change_key,
            projection.folder,
            item.digest,
            full_hash(projection),
            content.start if calendar else None,
            content.end if calendar else None,
        )

    # -- what tests look at ------------------------------------------------------------------

    def stamped(self) -> dict[str, list[str]]:
        """Stamp -> items, among those the engine can see (a windowed read sees no copy a
        person moved out of the window, nor has to)."""
        found: dict[str, list[str]] = {}
        for item in self.mirror().values():
            if item.stamp:
                found.setdefault(item.stamp, []).append(item.item_id)
        return found

    def imported_for(self, item_id: str) -> ImportedAppointment | None:
        found = self.imported.get(origin_key(self.mailbox[item_id]))
        return found[1] if found else None


def calendar_item(
    item_id: str,
    stamp: str | None,
    subject: str,
    start: datetime,
    end: datetime,
    private: bool = False,
    location: str | None = None,
) -> MailboxItem:
    item = MailboxItem(
        item_id=item_id,
        change_key=f"ck-{item_id}-0",
        folder=FolderKind.CALENDAR,
        stamp=stamp,
        is_appointment=True,
        subject=None if private else subject,
        location=location,
        body=None if private else "Notes.",
        start=start,
        end=end,
        private=private,
    )
    return replace(item, digest=_digest(item))


def _digest(item: MailboxItem) -> str:
    categories = (CATEGORY[parse_record_key(item.stamp)[0]],) if item.stamp else ()
    return calendar_digest(
        item.subject, item.start, item.end, item.all_day, item.location, categories
    )


def _written(item_id: str, projection: Projection) -> MailboxItem:
    content = projection.content
    calendar = isinstance(content, CalendarContent)
    return MailboxItem(
        item_id=item_id,
        change_key=f"ck-{item_id}-{full_hash(projection)[:6]}",
        folder=projection.folder,
        stamp=projection.key,
        is_appointment=calendar,
        subject=content.subject if calendar else None,
        location=content.location if calendar else None,
        start=content.start if calendar else None,
        end=content.end if calendar else None,
        digest=content_digest(content, projection.folder),
    )

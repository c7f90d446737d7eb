"""The decision step: what each side looks like now, what it looked like at the last run,
and therefore what to do. A pure function, no I/O; tested exhaustively with hypothesis.

Inputs, for one user: the PSA side (the projections of the records in scope, and the
appointments that came from the mailbox), the mailbox mirror (every item as last pulled)
and the links (the id map: which PSA record is which item, and how both looked after the
last write). Output: a :class:`Plan`. Every action names the rule that decided it.

Invariants this function keeps (each has a property test):
1. no duplicates: a PSA record has at most one item; extra stamped copies are deleted, and
   an item found stamped but unlinked (after a crash or a lost state database) is adopted;
   a stamped copy whose content is none the engine wrote is a person's (they copied the
   item in Outlook and made it another meeting): its stamp is cleared, never the item, and
   so are all copies of a deleted record when no link says which one the engine made;
2. only stamped items are updated or deleted in the mailbox; a person's appointment is
   changed only in its date and time (R16), and only imported records are deleted in the PSA;
3. a private appointment reaches the PSA only as "Appointment" with date and time (R05);
4. deletions beyond the configured share of what the engine owns on a side (the items it
   made in the mailbox; the appointments it imported into the PSA, whose unimports and
   detaches both count) are held, and so is any deletion while a side that had records
   answers empty; a detached import whose PSA record comes back is linked again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from engine.exchange.mailbox.base import (
    CalendarContent,
    FolderKind,
    MailboxItem,
    content_digest,
    visible_time,
)
from engine.exchange.projection import Projection, import_projection, origin_key
from engine.exchange.rules import Change, Origin, Outcome, Side, direction
from engine.psa.model import Appointment, ImportedAppointment, RecordKind, parse_record_key
from engine.settings.model import ImportMode

GUARD_MIN_DELETIONS = 5
"""Up to this many deletions on a side the share is not checked (a small calendar may shrink
fast); a side that answers empty is held whatever the size."""


def full_hash(value: object) -> str:
    """A stable fingerprint of a projection or import, body included."""
    return hashlib.blake2b(repr(value).encode(), digest_size=12).hexdigest()


def import_hash(imported: ImportedAppointment) -> str:
    """:func:`full_hash` of what an import writes into the PSA: its origin key is left out,
    since the same item keeps its content when the mailbox API renames it (R19)."""
    return full_hash(replace(imported, origin_key=""))


@dataclass(frozen=True, slots=True)
class Link:
    """One entry of the id map, as it stood after the last successful write."""

    key: str
    origin: Origin
    item_id: str
    change_key: str
    folder: FolderKind
    digest: str
    """Mailbox-visible fields of the item after our last write (``content_digest``)."""
    psa_hash: str
    """``full_hash`` of what we last wrote: the projection (PSA origin) or the import."""
    start: datetime | None
    end: datetime | None
    detached: bool = False
    """A person's appointment whose PSA record was deleted in the PSA: left alone."""


@dataclass(frozen=True, slots=True)
class ImportedRecord:
    """A PSA appointment that came from a mailbox, as the PSA holds it now."""

    key: str
    origin_key: str
    start: datetime
    end: datetime
    marked: bool = True
    """Whether the record names this origin itself; a person's edit in the PSA may have
    removed or changed the line that does, and the next write restores it."""


def imported_records(
    appointments: Iterable[Appointment],
    mirror: Mapping[str, MailboxItem],
    links: Mapping[str, Link],
) -> dict[str, ImportedRecord]:
    """Which of a user's PSA appointments came from the mailbox, by origin key.

    The links decide for the records the engine wrote, since the origin a record carries is
    text people can edit: a record linked as the PSA's own stays so whatever its description
    says (an origin line typed or pasted in), and an import stays one when an edit removed
    or changed its line. The line decides for records no link knows (after a lost state).
    When records claim one origin (a person copied an import in the PSA, line and all), the
    linked one, else the first made, is the import; the others are the PSA's own.
    """
    claims: dict[str, list[tuple[tuple[int, int], ImportedRecord]]] = {}
    for appointment in appointments:
        origin = appointment.origin_key
        link = links.get(appointment.key)
        if link is not None and link.origin is Origin.PSA:
            continue
        if link is not None:
            item = mirror.get(link.item_id)
            origin = origin_key(item) if item is not None else origin or link.item_id
        if origin is None:
            continue
        record = ImportedRecord(
            appointment.key,
            origin,
            appointment.start,
            appointment.end,
            marked=appointment.origin_key == origin,
        )
        rank = (0 if link is not None else 1, appointment.id)
        claims.setdefault(origin, []).append((rank, record))
    return {origin: min(found, key=lambda claim: claim[0])[1] for origin, found in claims.items()}


@dataclass(frozen=True)
class PsaSide:
    projections: Mapping[str, Projection]
    """PSA records in scope for this user (kinds allowed, inside the window), by key."""
    imported: Mapping[str, ImportedRecord]
    """This user's appointments that came from the mailbox, by origin key."""
    read: frozenset[RecordKind] = frozenset(RecordKind)
    """The kinds read for this user: the others are out of scope, not missing."""


@dataclass(frozen=True)
class Policy:
    """The user's effective settings for one run."""

    import_mode: ImportMode
    window_start: datetime
    window_end: datetime
    max_delete_percent: int = 50
    allow_mass_delete: bool = False

    def in_window(self, start: datetime | None, end: datetime | None) -> bool:
        if start is None or end is None:
            return True
        return start < self.window_end and end > self.window_start


class Verb(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ADOPT = "adopt"
    REFRESH = "refresh"
    FORGET = "forget"
    IMPORT = "import"
    UNIMPORT = "unimport"
    PSA_MOVE = "psa_move"
    ITEM_MOVE = "item_move"
    DETACH = "detach"
    REATTACH = "reattach"
    CONFLICT = "conflict"
    UNSTAMP = "unstamp"


WRITES_MAILBOX = frozenset({Verb.CREATE, Verb.UPDATE, Verb.DELETE, Verb.ITEM_MOVE, Verb.UNSTAMP})
WRITES_PSA = frozenset({Verb.IMPORT, Verb.UNIMPORT, Verb.PSA_MOVE})
DELETIONS = frozenset({Verb.DELETE, Verb.UNIMPORT, Verb.DETACH})
"""What the guard holds: the loss of an item the engine made, or of an imported appointment
(a detached link never imports its appointment again)."""


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan. ``rule`` names the rule ids that decided it."""

    verb: Verb
    rule: str
    reason: str
    key: str | None = None
    item_id: str | None = None
    change_key: str | None = None
    projection: Projection | None = None
    """PSA origin: the content the item must hold after this action."""
    imported: ImportedAppointment | None = None
    time: tuple[datetime, datetime] | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    held: tuple[Action, ...] = ()
    guard: str | None = None

    def count(self, *verbs: Verb) -> int:
        return sum(1 for action in self.actions if action.verb in verbs)

    @property
    def writes(self) -> int:
        return self.count(*(WRITES_MAILBOX | WRITES_PSA))


def reconcile(
    psa: PsaSide, mirror: Mapping[str, MailboxItem], links: Mapping[str, Link], policy: Policy
) -> Plan:
    """The plan that brings both sides in line with the rules."""
    planner = _Planner(psa, mirror, links, policy)
    planner.psa_records()
    planner.unwanted_items()
    planner.mailbox_appointments()
    planner.stale_links()
    return planner.plan()


@dataclass
class _Planner:
    psa: PsaSide
    mirror: Mapping[str, MailboxItem]
    links: Mapping[str, Link]
    policy: Policy
    actions: list[Action] = field(default_factory=list)
    handled_links: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.digests: dict[str, str] = {}
        self.stamped: dict[str, list[MailboxItem]] = {}
        for item in sorted(self.mirror.values(), key=lambda item: item.item_id):
            if item.stamp is not None and item.master_id is None:
                self.stamped.setdefault(item.stamp, []).append(item)

    def written_digest(self, key: str, projection: Projection) -> str:
        """What the mailbox item of ``projection`` looks like once written; asked twice per
        record (copies, then changes), computed once."""
        if (digest := self.digests.get(key)) is None:
            digest = self.digests[key] = content_digest(projection.content, projection.folder)
        return digest

    def add(self, verb: Verb, rule: str, reason: str, **details: object) -> None:
        self.actions.append(Action(verb, rule, reason, **details))  # type: ignore[arg-type]

    # -- PSA records -> mailbox -----------------------------------------------------------

    def followed(self, link: Link | None) -> bool:
        """Whether a link's record and item were inside the window at the last write: then
        both are followed wherever they went since, the window notwithstanding (R16, R17)."""
        return (
            link is not None
            and not link.detached
            and link.start is not None
            and self.policy.in_window(link.start, link.end)
        )

    def psa_records(self) -> None:
        for key in sorted(self.psa.projections):
            projection = self.psa.projections[key]
            content = projection.content
            if (
                isinstance(content, CalendarContent)
                and not self.policy.in_window(content.start, content.end)
                and not self.followed(self.links.get(key))
            ):
                continue
            self.psa_record(key, projection)

    def psa_record(self, key: str, projection: Projection) -> None:
        link = self.links.get(key)
        if link is not None and link.origin is not Origin.PSA:
            link = None
        self.handled_links.add(key)
        copies = self.stamped.get(key, [])
        written = {self.written_digest(key, projection)}
        current = next((item for item in copies if link and item.item_id == link.item_id), None)
        current = current or next((item for item in copies if item.digest in written), None)
        current = current or (copies[0] if copies else None)
        if current is not None:
            self.extra_copies(key, current, copies, written | {link.digest if link else ""})
        kind = projection.kind
        if current is None:
            if link is not None:
                rule = direction(kind, Origin.PSA, Side.MAILBOX, Change.DELETE)
                self.add(
                    Verb.CREATE,
                    _ids(rule.rules),
                    f"deleted in the mailbox: {rule.outcome}",
                    key=key,
                    projection=projection,
                )
            else:
                self.add(
                    Verb.CREATE,
                    _export_rule(kind),
                    "new in the PSA",
                    key=key,
                    projection=projection,
                )
            return
        if current.folder is not projection.folder:
            self.add(
                Verb.DELETE,
                "R15",
                f"moves to the {projection.folder} folder",
                key=key,
                item_id=current.item_id,
            )
            self.add(
                Verb.CREATE,
                "R15",
                f"moves to the {projection.folder} folder",
                key=key,
                projection=projection,
            )
            return
        if link is None:
            self.add(
                Verb.ADOPT,
                "invariant 1",
                "found stamped in the mailbox: linked, not copied",
                key=key,
                item_id=current.item_id,
                change_key=current.change_key,
                projection=projection,
            )
        self.compare(key, projection, current, link)

    def extra_copies(
        self, key: str, kept: MailboxItem | None, copies: list[MailboxItem], written: set[str]
    ) -> None:
        """Copies beside ``kept`` (the engine's item, if one still is): the engine's own (the
        content it wrote) are deleted; one whose content the engine never wrote is a
        person's, and only loses its stamp."""
        for copy in copies:
            if copy is kept:
                continue
            if kept is not None and (copy.digest in written or copy.digest == kept.digest):
                self.add(
                    Verb.DELETE,
                    "invariant 1",
                    f"duplicate of {kept.item_id}: one item per record",
                    key=key,
                    item_id=copy.item_id,
                    duplicate=True,
                )
            else:
                self.add(
                    Verb.UNSTAMP,
                    "invariant 2",
                    f"a copy of the item of {key} made into another appointment: the person's",
                    key=key,
                    item_id=copy.item_id,
                    change_key=copy.change_key,
                )

    def compare(
        self, key: str, projection: Projection, current: MailboxItem, link: Link | None
    ) -> None:
        kind = projection.kind
        folder = projection.folder
        expected = projection
        mailbox_edited = link is None or current.change_key != link.change_key
        psa_changed = link is None or link.psa_hash != full_hash(projection)
        content = projection.content
        if (
            link is not None
            and link.start is not None
            and link.end is not None
            and mailbox_edited
            and isinstance(content, CalendarContent)
            and current.start is not None
            and current.end is not None
        ):
            was = (visible_time(folder, link.start), visible_time(folder, link.end))
            now = (current.start, current.end)
            psa_now = (visible_time(folder, content.start), visible_time(folder, content.end))
            if now not in (was, psa_now):
                rule = direction(kind, Origin.PSA, Side.MAILBOX, Change.TIME)
                if rule.outcome is Outcome.PROPAGATE and psa_now != was:
                    self.add(
                        Verb.CONFLICT,
                        "R16",
                        "date/time changed on both sides: the PSA owns it",
                        key=key,
                        item_id=current.item_id,
                    )
                elif rule.outcome is Outcome.PROPAGATE:
                    start = content.start + (now[0] - was[0])  # type: ignore[operator]
                    end = content.end + (now[1] - was[1])  # type: ignore[operator]
                    expected = replace(projection, content=replace(content, start=start, end=end))
                    self.add(
                        Verb.PSA_MOVE,
                        _ids(rule.rules),
                        "date/time changed in the mailbox",
                        key=key,
                        item_id=current.item_id,
                        change_key=current.change_key,
                        projection=expected,
                        time=(start, end),
                    )
        if (
            self.written_digest(key, projection)
            if expected is projection
            else content_digest(expected.content, folder)
        ) != current.digest:
            if psa_changed:
                rule_ids, reason = _export_rule(kind), "changed in the PSA"
            else:
                rule = direction(kind, Origin.PSA, Side.MAILBOX, Change.DETAILS)
                rule_ids, reason = _ids(rule.rules), f"changed in the mailbox: {rule.outcome}"
            self.add(
                Verb.UPDATE,
                rule_ids,
                reason,
                key=key,
                item_id=current.item_id,
                change_key=current.change_key,
                projection=expected,
            )
        elif psa_changed and link is not None:
            self.add(
                Verb.UPDATE,
                _export_rule(kind),
                "changed in the PSA (body)",
                key=key,
                item_id=current.item_id,
                change_key=current.change_key,
                projection=expected,
            )
        elif link is not None and mailbox_edited and expected is projection:
            self.add(
                Verb.REFRESH,
                "-",
                "mailbox change key moved on; content as expected",
                key=key,
                item_id=current.item_id,
                change_key=current.change_key,
                projection=expected,
            )

    def unwanted_items(self) -> None:
        """Stamped items whose record is gone, out of scope or of a kind no longer synced."""
        for key, copies in sorted(self.stamped.items()):
            if key in self.psa.projections:
                continue
            kind = _kind_of(key)
            link = self.links.get(key)
            if link is not None:
                # The engine's item is the linked one, or one holding what it wrote; the
                # others (all of them, if the person deleted the engine's) are copies.
                kept = next((item for item in copies if item.item_id == link.item_id), None)
                kept = kept or next((item for item in copies if item.digest == link.digest), None)
                self.extra_copies(key, kept, copies, {link.digest})
                if kept is None:
                    # The link stays until the copies show unstamped (a failed unstamp
                    # without it would leave a copy to be deleted as the record's item).
                    self.handled_links.add(key)
                    continue
                copies = [kept]
            elif len({item.digest for item in copies}) > 1:
                # No link (a lost state) and copies that differ: one may be a meeting a
                # person made of a copy, and nothing tells which. None is deleted: all are
                # the person's, as an unlinked item without a stamp would be.
                self.handled_links.add(key)
                self.extra_copies(key, None, copies, set())
                continue
            for item in copies:
                if not self.policy.in_window(item.start, item.end):
                    continue
                self.handled_links.add(key)
                rule_ids = _ids(direction(kind, Origin.PSA, Side.PSA, Change.DELETE).rules)
                self.add(
                    Verb.DELETE,
                    rule_ids,
                    "deleted in the PSA or no longer in scope",
                    key=key,
                    item_id=item.item_id,
                )

    # -- mailbox appointments -> PSA ------------------------------------------------------

    def mailbox_appointments(self) -> None:
        by_item = {
            link.item_id: link for link in self.links.values() if link.origin is Origin.MAILBOX
        }
        by_key = {record.key: record for record in self.psa.imported.values()}
        for item_id in sorted(self.mirror):
            item = self.mirror[item_id]
            if not _importable(item):
                continue
            record = self.psa.imported.get(origin_key(item))
            link = by_item.get(item_id)
            if record is None and link is not None:
                # The same item under a new identity: a series moved, or a key made from
                # an occurrence's start before its original start was read (R10).
                record = by_key.get(link.key)
            if link is None and record is not None:
                link = self.links.get(record.key)
            if not (self.policy.in_window(item.start, item.end) or self.followed(link)):
                continue
            if link is not None:
                self.handled_links.add(link.key)
                if link.detached:
                    if record is None or record.key != link.key:
                        continue
                    self.add(
                        Verb.REATTACH,
                        "invariant 4",
                        "its PSA record is back (it was missing from a read): linked again",
                        key=link.key,
                        item_id=item_id,
                    )
                    link = replace(link, detached=False)
            self.mailbox_appointment(item, record, link)

    def mailbox_appointment(
        self, item: MailboxItem, record: ImportedRecord | None, link: Link | None
    ) -> None:
        kind = RecordKind.APPOINTMENT
        mode = self.policy.import_mode
        if record is None and link is not None:
            rule = direction(kind, Origin.MAILBOX, Side.PSA, Change.DELETE)
            self.add(
                Verb.DETACH,
                _ids(rule.rules),
                f"deleted in the PSA: {rule.outcome}",
                key=link.key,
                item_id=item.item_id,
            )
            return
        if mode is ImportMode.OFF:
            return
        imported = import_projection(item, mode)
        rules = ["R04"]
        if item.private:
            rules.append("R05")
        elif mode is ImportMode.WITHOUT_DETAILS:
            rules.append("R06")
        if item.master_id:
            rules.append("R10")
        if record is None:
            self.add(
                Verb.IMPORT,
                ",".join(rules),
                "new in the mailbox",
                item_id=item.item_id,
                imported=imported,
            )
            return
        if link is None:
            self.add(
                Verb.IMPORT,
                "invariant 1",
                "imported before: linked again, not copied",
                key=record.key,
                item_id=item.item_id,
                imported=imported,
            )
            return
        psa_moved = (record.start, record.end) != (link.start, link.end)
        mailbox_changed = import_hash(imported) != link.psa_hash
        mailbox_moved = (item.start, item.end) != (link.start, link.end)
        if psa_moved and mailbox_moved:
            self.add(
                Verb.CONFLICT,
                "R16",
                "date/time changed on both sides: the mailbox owns it",
                key=record.key,
                item_id=item.item_id,
            )
        elif psa_moved and item.master_id is None:
            rule = direction(kind, Origin.MAILBOX, Side.PSA, Change.TIME)
            self.add(
                Verb.ITEM_MOVE,
                _ids(rule.rules),
                "date/time changed in the PSA",
                key=record.key,
                item_id=item.item_id,
                change_key=item.change_key,
                imported=replace(imported, start=record.start, end=record.end),
                time=(record.start, record.end),
            )
            return
        elif psa_moved:
            self.add(
                Verb.CONFLICT,
                "R10,R16",
                "date/time changed in the PSA on an occurrence of the person's series: the"
                " series in the mailbox keeps it",
                key=record.key,
                item_id=item.item_id,
            )
        renamed = record.origin_key != imported.origin_key
        if mailbox_changed or psa_moved or renamed or not record.marked:
            self.add(
                Verb.IMPORT,
                ",".join(rules),
                "changed in the mailbox" if record.marked else "its origin line was edited away",
                key=record.key,
                item_id=item.item_id,
                imported=imported,
            )

    def stale_links(self) -> None:
        """Links whose item left the mailbox: a person's deletion flows to the PSA (R04)."""
        imported_keys = {record.key for record in self.psa.imported.values()}
        deletion = direction(RecordKind.APPOINTMENT, Origin.MAILBOX, Side.MAILBOX, Change.DELETE)
        for key in sorted(self.links):
            link = self.links[key]
            if key in self.handled_links or link.item_id in self.mirror:
                continue
            if (
                link.origin is Origin.MAILBOX
                and not link.detached
                and key in imported_keys
                and self.policy.in_window(link.start, link.end)
            ):
                self.add(
                    Verb.UNIMPORT,
                    _ids(deletion.rules),
                    "deleted in the mailbox",
                    key=key,
                    item_id=link.item_id,
                )
            else:
                self.add(Verb.FORGET, "-", "the item left the mailbox; nothing to do", key=key)

    # -- the guard ------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The plan, with every deletion held when the guard finds the run suspect."""
        if self.policy.allow_mass_delete:
            return Plan(tuple(self.actions))
        suspect = self.suspect()
        if not suspect:
            return Plan(tuple(self.actions))
        held = tuple(self.losses())
        kept = tuple(action for action in self.actions if action not in held)
        guard = "; ".join(suspect) + ": deletions held until an administrator allows them"
        return Plan(kept, held, guard)

    def suspect(self) -> list[str]:
        """Why this run's deletions look like an accident rather than people's work.

        Each side is measured against what the engine owns there: the items it made in the
        mailbox, and the appointments it imported into the PSA (their unimports and
        detaches both lose them). A side that had records and now answers with none is an
        outage or lost rights whatever the size, never a reason to delete.
        """
        live = [link for link in self.links.values() if not link.detached]
        sides = (
            (
                "items the engine made in the mailbox would be deleted",
                Origin.PSA,
                (Verb.DELETE,),
            ),
            (
                "appointments the engine imported into the PSA would be deleted or unlinked",
                Origin.MAILBOX,
                (Verb.UNIMPORT, Verb.DETACH),
            ),
        )
        reasons = []
        limit = self.policy.max_delete_percent
        for what, origin, verbs in sides:
            owned = sum(1 for link in live if link.origin is origin)
            deletions = sum(1 for action in self.losses() if action.verb in verbs)
            if deletions > GUARD_MIN_DELETIONS and deletions * 100 > limit * max(owned, 1):
                reasons.append(f"{deletions} of {owned} {what} (more than {limit}%)")
        if not live or not any(self.losses()):
            return reasons
        had = f"{len(live)} synced items"
        if not (self.psa.projections or self.psa.imported):
            reasons.insert(0, f"the PSA answered with no record for this user, who had {had}")
        else:
            reasons[:0] = self.kinds_answered_empty(live)
        if not self.mirror:
            reasons.insert(0, f"the mailbox answered empty, where the engine had {had}")
        return reasons

    def kinds_answered_empty(self, live: list[Link]) -> list[str]:
        """A kind of PSA record the engine had more of than the allowance, answered with none
        while other kinds still come (rights lost on one entity), and whose items would go."""
        answered = {_kind_of(key) for key in self.psa.projections}
        losing = {_kind_of(a.key) for a in self.losses() if a.verb is Verb.DELETE and a.key}
        owned: dict[RecordKind, int] = {}
        for link in live:
            if link.origin is Origin.PSA:
                owned[_kind_of(link.key)] = owned.get(_kind_of(link.key), 0) + 1
        return [
            f"the PSA answered with no {kind} for this user, who had {count}"
            for kind, count in sorted(owned.items())
            if count > GUARD_MIN_DELETIONS
            and kind in losing & self.psa.read
            and kind not in answered
        ]

    def losses(self) -> Iterator[Action]:
        """The actions the guard holds (a duplicate copy's deletion loses nothing)."""
        return (
            action for action in self.actions if action.verb in DELETIONS and not action.duplicate
        )


def _importable(item: MailboxItem) -> bool:
    """A person's appointment (or an occurrence of their series) in the calendar (R04, R07)."""
    return (
        item.stamp is None
        and item.is_appointment
        and item.folder is FolderKind.CALENDAR
        and not item.is_master
        and item.start is not None
        and item.end is not None
    )


def _kind_of(key: str) -> RecordKind:
    return parse_record_key(key)[0]


def _ids(rules: Iterable[str]) -> str:
    return ",".join(rules)


def _export_rule(kind: RecordKind) -> str:
    return _ids(direction(kind, Origin.PSA, Side.PSA, Change.DETAILS).rules)

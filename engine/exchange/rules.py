"""Which change flows where, as one table (R04, R07, R09, R16, R17).

``reconcile`` looks every decision up here, and the console shows the same table, so what
the engine does and what the administrator reads cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.psa.model import RecordKind


class Origin(StrEnum):
    """Where an item was created; that side owns it."""

    PSA = "psa"
    MAILBOX = "mailbox"


class Side(StrEnum):
    PSA = "psa"
    MAILBOX = "mailbox"


class Change(StrEnum):
    TIME = "date/time"
    DETAILS = "subject/details"
    DELETE = "deletion"


class Outcome(StrEnum):
    PROPAGATE = "flows to the other side"
    REVERT = "overwritten from the PSA"
    RECREATE = "recreated from the PSA"
    IGNORE = "stays on its side"
    DETACH = "link dropped, mailbox item kept"


@dataclass(frozen=True)
class DirectionRule:
    kind: RecordKind
    origin: Origin
    side: Side
    change: Change
    outcome: Outcome
    rules: tuple[str, ...]
    note: str = ""


CONFLICT_POLICY = (
    "When both sides changed an item since the last run, the side that owns it wins: the PSA"
    " for items the PSA created, the mailbox for appointments created in the mailbox. The"
    " losing change is logged as a conflict."
)


def _psa_owned(
    kind: RecordKind,
    mailbox_time: Outcome,
    rules_mailbox: tuple[str, ...],
    rules_psa: tuple[str, ...],
) -> list[DirectionRule]:
    rows = [
        DirectionRule(kind, Origin.PSA, Side.PSA, Change.DETAILS, Outcome.PROPAGATE, rules_psa),
        DirectionRule(kind, Origin.PSA, Side.PSA, Change.DELETE, Outcome.PROPAGATE, rules_psa),
        DirectionRule(
            kind,
            Origin.PSA,
            Side.MAILBOX,
            Change.DETAILS,
            Outcome.REVERT,
            rules_mailbox,
            "the PSA stays the source",
        ),
        DirectionRule(
            kind,
            Origin.PSA,
            Side.MAILBOX,
            Change.DELETE,
            Outcome.RECREATE,
            rules_mailbox,
            "the PSA stays the source",
        ),
    ]
    if kind is not RecordKind.CONTACT:
        rows += [
            DirectionRule(kind, Origin.PSA, Side.PSA, Change.TIME, Outcome.PROPAGATE, rules_psa),
            DirectionRule(
                kind,
                Origin.PSA,
                Side.MAILBOX,
                Change.TIME,
                mailbox_time,
                ("R16",) if mailbox_time is Outcome.PROPAGATE else rules_mailbox,
            ),
        ]
    return rows


DIRECTION_RULES: tuple[DirectionRule, ...] = (
    *_psa_owned(RecordKind.APPOINTMENT, Outcome.PROPAGATE, ("R17",), ("R04",)),
    *_psa_owned(RecordKind.TODO, Outcome.PROPAGATE, ("R17",), ("R09",)),
    *_psa_owned(RecordKind.SERVICE_CALL, Outcome.REVERT, ("R17",), ("R09",)),
    *_psa_owned(RecordKind.CONTACT, Outcome.REVERT, ("R07",), ("R07", "R08")),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.MAILBOX,
        Change.TIME,
        Outcome.PROPAGATE,
        ("R04", "R16"),
    ),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.MAILBOX,
        Change.DETAILS,
        Outcome.PROPAGATE,
        ("R05", "R06"),
        'private ones only as "Appointment" with date and time',
    ),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.MAILBOX,
        Change.DELETE,
        Outcome.PROPAGATE,
        ("R04",),
    ),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.PSA,
        Change.TIME,
        Outcome.PROPAGATE,
        ("R16",),
        "only start and end of the person's appointment are changed",
    ),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.PSA,
        Change.DETAILS,
        Outcome.IGNORE,
        ("R06",),
        "the mailbox owns it; its next change overwrites the PSA record",
    ),
    DirectionRule(
        RecordKind.APPOINTMENT,
        Origin.MAILBOX,
        Side.PSA,
        Change.DELETE,
        Outcome.DETACH,
        ("R04",),
        "the engine never deletes what a person created",
    ),
)

_BY_KEY = {(rule.kind, rule.origin, rule.side, rule.change): rule for rule in DIRECTION_RULES}


def direction(kind: RecordKind, origin: Origin, side: Side, change: Change) -> DirectionRule:
    """The rule for one kind of change; every combination that can happen has one."""
    return _BY_KEY[(kind, origin, side, change)]

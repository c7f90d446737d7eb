"""What one AD sync run of an organization writes: a pure function of the directory's users
in scope, the organization's PSA contacts, the stored mappings and the admin's resolutions.

Only the organization's chosen fields are written (names always); a blank directory value
never overwrites a PSA value. A user who leaves the scope (gone, or disabled) makes the
contact inactive, never deleted, and only a contact a mapping owns is ever made inactive. A
run whose scope looks like an outage (empty, or more than half of the synced contacts
leaving) holds its inactivations until an admin allows them, like the mailbox side's
mass-deletion guard.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from engine.adsync.matching import Conflict, Match, MatchStep, Resolution, match_users
from engine.adsync.model import DirectoryUser
from engine.psa.contacts import ContactValues, ContactWrite, PsaContact
from engine.settings.adsync import ContactField

NAME_FIELDS = ("first_name", "middle_name", "last_name")
ADDRESS_FIELDS = ("street", "city", "state", "postal_code", "country")
GUARD_MIN_INACTIVATIONS = 5
"""Fewer inactivations than this never trip the guard (an empty scope always does)."""


class Change(StrEnum):
    """What a run does to one user's contact: the run's totals count these."""

    CREATED = "created"
    UPDATED = "updated"
    REACTIVATED = "reactivated"
    INACTIVATED = "inactivated"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    EXCLUDED = "excluded"
    HELD = "held"
    """An inactivation the guard holds."""
    INCOMPLETE = "incomplete"
    """A new contact the PSA cannot take (no first or last name): an error of the run."""


TOTALS = (
    Change.CREATED,
    Change.UPDATED,
    Change.REACTIVATED,
    Change.INACTIVATED,
    Change.UNCHANGED,
    Change.CONFLICT,
)


@dataclass(frozen=True, slots=True)
class UserPlan:
    """One user's outcome: in scope, or a mapped user who left it (``user`` None)."""

    directory_id: str
    user: DirectoryUser | None
    change: Change
    contact_id: int | None
    step: MatchStep | None = None
    conflict: Conflict | None = None
    write: ContactWrite | None = None
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    users: list[UserPlan]
    mappings: dict[str, int]
    """Mappings found this run for existing contacts (new contacts are mapped on write)."""
    released: frozenset[str]
    guard: str | None = None
    counts: dict[Change, int] = field(default_factory=dict)

    def writes(self) -> list[UserPlan]:
        return [user for user in self.users if user.write is not None]


def written_fields(chosen: Collection[ContactField]) -> tuple[str, ...]:
    """The contact attributes a run writes: names always, then the organization's fields."""
    names = list(NAME_FIELDS)
    for chosen_field in ContactField:
        if chosen_field in chosen:
            names += ADDRESS_FIELDS if chosen_field is ContactField.ADDRESS else [chosen_field]
    return tuple(names)


def plan_run(
    users: Sequence[DirectoryUser],
    contacts: Sequence[PsaContact],
    mappings: Mapping[str, int],
    resolutions: Mapping[str, Resolution],
    chosen: Collection[ContactField],
    allow_inactivations: bool = False,
) -> Plan:
    names = written_fields(chosen)
    by_id = {contact.id: contact for contact in contacts}
    matching = match_users(users, contacts, mappings, resolutions)
    plans = []
    for user in users:
        directory_id = user.directory_id
        if directory_id in matching.excluded:
            plans.append(UserPlan(directory_id, user, Change.EXCLUDED, mappings.get(directory_id)))
        elif directory_id in matching.conflicts:
            conflict = matching.conflicts[directory_id]
            plans.append(UserPlan(directory_id, user, Change.CONFLICT, None, conflict=conflict))
        else:
            match = matching.matches[directory_id]
            contact = by_id.get(match.contact_id) if match.contact_id is not None else None
            plans.append(_user_plan(user, match, contact, names))
    in_scope = {user.directory_id for user in users}
    settled = matching.released | {plan.directory_id for plan in plans}
    for directory_id, contact_id in sorted(mappings.items()):
        if directory_id in in_scope or directory_id in settled or contact_id not in by_id:
            continue
        contact = by_id[contact_id]
        write = ContactWrite(contact_id, contact.values, active=False) if contact.active else None
        change = Change.INACTIVATED if write else Change.UNCHANGED
        plans.append(UserPlan(directory_id, None, change, contact_id, write=write))
    guard = None if allow_inactivations else _suspect(users, plans, mappings, by_id)
    if guard:
        plans = [_held(plan) for plan in plans]
    found = {
        plan.directory_id: plan.contact_id
        for plan in plans
        if plan.user is not None
        and plan.contact_id is not None
        and plan.change is not Change.EXCLUDED
    }
    counts = dict.fromkeys(Change, 0)
    for plan in plans:
        counts[plan.change] += 1
    return Plan(plans, found, matching.released, guard, counts)


def _user_plan(
    user: DirectoryUser, match: Match, contact: PsaContact | None, names: tuple[str, ...]
) -> UserPlan:
    directory_id = user.directory_id
    if contact is None:
        if not user.enabled:
            # A disabled account the PSA does not know: nothing to create or inactivate.
            return UserPlan(directory_id, user, Change.UNCHANGED, None, match.step)
        values = ContactValues(**{name: getattr(user.values, name) for name in names})
        if not (values.first_name.strip() and values.last_name.strip()):
            detail = "no first or last name in the directory: a PSA contact needs both"
            return UserPlan(directory_id, user, Change.INCOMPLETE, None, match.step, detail=detail)
        write = ContactWrite(None, values, frozenset(names), active=True)
        return UserPlan(directory_id, user, Change.CREATED, None, match.step, write=write)
    if not user.enabled:
        if not contact.active:
            return UserPlan(directory_id, user, Change.UNCHANGED, contact.id, match.step)
        write = ContactWrite(contact.id, contact.values, active=False)
        return UserPlan(directory_id, user, Change.INACTIVATED, contact.id, match.step, write=write)
    changed = _changed(user.values, contact.values, names)
    values = contact.values
    if changed:
        values = replace(values, **{name: getattr(user.values, name) for name in changed})
    if not contact.active:
        write = ContactWrite(contact.id, values, changed, active=True)
        return UserPlan(directory_id, user, Change.REACTIVATED, contact.id, match.step, write=write)
    if not changed:
        return UserPlan(directory_id, user, Change.UNCHANGED, contact.id, match.step)
    write = ContactWrite(contact.id, values, changed)
    return UserPlan(directory_id, user, Change.UPDATED, contact.id, match.step, write=write)


def _changed(
    directory: ContactValues, psa: ContactValues, names: tuple[str, ...]
) -> frozenset[str]:
    """The written fields whose directory value is filled and differs from the PSA's (an
    e-mail address differing in case only is the same address)."""
    changed = set()
    for name in names:
        new, old = getattr(directory, name).strip(), getattr(psa, name)
        if name == "email":
            new, old = new.casefold(), old.casefold()
        if new and new != old:
            changed.add(name)
    return frozenset(changed)


def _suspect(
    users: Sequence[DirectoryUser],
    plans: list[UserPlan],
    mappings: Mapping[str, int],
    contacts: Mapping[int, PsaContact],
) -> str | None:
    """Why this run's inactivations look like an outage rather than people leaving."""
    synced = sum(
        1
        for contact_id in mappings.values()
        if contact_id in contacts and contacts[contact_id].active
    )
    leaving = sum(1 for plan in plans if plan.change is Change.INACTIVATED)
    if not leaving or not synced:
        return None
    if not any(user.enabled for user in users):
        return (
            f"the directory's scope answered with no enabled user, where {synced} contacts"
            " are synced: inactivations held until an administrator allows them"
        )
    if leaving >= GUARD_MIN_INACTIVATIONS and leaving * 2 > synced:
        return (
            f"{leaving} of {synced} synced contacts would be made inactive (more than half):"
            " inactivations held until an administrator allows them"
        )
    return None


def _held(plan: UserPlan) -> UserPlan:
    if plan.change is not Change.INACTIVATED:
        return plan
    return replace(plan, change=Change.HELD, write=None)

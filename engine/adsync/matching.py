"""Which PSA contact each directory user is: the vendor's matching rules, as a pure function.

In order: an existing mapping (directory id -> contact) or an admin's resolution; else
(1) the e-mail address, case-insensitive, active contacts first, then inactive ones;
(2) the normalised name (first + middle + last with special characters removed, which is
first + last when the middle name is blank on both sides), active first, then inactive;
(3) no match: a new contact.

Nothing is guessed: a user whose e-mail or (at the name step) whose name another user in
scope shares, or whom several contacts match at one step and activity level, is a
conflict, listed for the admin to resolve, and is not mapped.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from engine.adsync.model import DirectoryUser
from engine.psa.contacts import ContactValues, PsaContact


class MatchStep(StrEnum):
    MAPPING = "mapping"
    RESOLUTION = "resolution"
    EMAIL = "e-mail"
    NAME = "name"
    NEW = "new"


class ConflictKind(StrEnum):
    SHARED_EMAIL = "shared e-mail"
    SHARED_NAME = "shared name"
    SEVERAL_CONTACTS = "several contacts"


class ResolutionKind(StrEnum):
    CONTACT = "contact"
    NEW = "new"
    EXCLUDE = "exclude"


@dataclass(frozen=True, slots=True)
class Resolution:
    """An admin's answer to a conflict: this contact, a new contact, or leave the user out."""

    kind: ResolutionKind
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """The contact a user is (``None``: a new one) and the step that found it."""

    contact_id: int | None
    step: MatchStep


@dataclass(frozen=True, slots=True)
class Conflict:
    """Why a user could not be mapped: the other users concerned and the candidates."""

    kind: ConflictKind
    detail: str
    users: tuple[str, ...] = ()
    """The other directory users (ids) sharing the e-mail or name."""
    contacts: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Matching:
    matches: dict[str, Match]
    conflicts: dict[str, Conflict]
    excluded: frozenset[str]
    released: frozenset[str]
    """Mappings to forget: their contact is gone from the PSA, or the admin gave it to
    another user (the old one left)."""


def email_key(values: ContactValues) -> str:
    return values.email.strip().casefold()


def name_key(values: ContactValues) -> str:
    """First + middle + last, accents and special characters removed, case-insensitive;
    with the middle name blank it is first + last."""
    text = unicodedata.normalize("NFKD", values.first_name + values.middle_name + values.last_name)
    return "".join(char for char in text.casefold() if char.isalnum())


def match_users(
    users: Sequence[DirectoryUser],
    contacts: Sequence[PsaContact],
    mappings: Mapping[str, int],
    resolutions: Mapping[str, Resolution],
) -> Matching:
    """Match every user in scope, in the rules' order (see the module's docstring)."""
    by_id = {contact.id: contact for contact in contacts}
    in_scope = {user.directory_id for user in users}
    excluded = frozenset(
        directory_id
        for directory_id, resolution in resolutions.items()
        if resolution.kind is ResolutionKind.EXCLUDE and directory_id in in_scope
    )
    considered = [user for user in users if user.directory_id not in excluded]
    matches: dict[str, Match] = {}
    conflicts: dict[str, Conflict] = {}
    released = {d for d, contact_id in mappings.items() if contact_id not in by_id}
    # A mapped contact is its user's, in scope or not (a user who returns keeps it): it is
    # no candidate for anyone else's matching.
    owners = {c: d for d, c in mappings.items() if d not in released}
    claimed = set(owners)
    for user in considered:
        contact_id = mappings.get(user.directory_id)
        if contact_id is not None and user.directory_id not in released:
            matches[user.directory_id] = Match(contact_id, MatchStep.MAPPING)
    for user in considered:
        resolution = resolutions.get(user.directory_id)
        if user.directory_id in matches or resolution is None:
            continue
        if resolution.kind is ResolutionKind.NEW:
            matches[user.directory_id] = Match(None, MatchStep.RESOLUTION)
            continue
        # The admin may give a user the contact of one who left (an account made anew).
        owner = owners.get(resolution.contact_id or 0)
        if resolution.contact_id in by_id and (owner is None or owner not in in_scope):
            matches[user.directory_id] = Match(resolution.contact_id, MatchStep.RESOLUTION)
            claimed.add(resolution.contact_id)
            if owner is not None:
                released.add(owner)
    pending = [user for user in considered if user.directory_id not in matches]

    def step(
        user: DirectoryUser,
        key: str,
        sharing: dict[str, list[str]],
        index: dict[str, list[PsaContact]],
        by: MatchStep,
        shared: ConflictKind,
    ) -> bool:
        """One matching step for one user; whether it decided (matched or conflicted)."""
        what = "e-mail" if by is MatchStep.EMAIL else "name"
        candidates = [contact for contact in index.get(key, ()) if contact.id not in claimed]
        others = tuple(other for other in sharing.get(key, ()) if other != user.directory_id)
        if others and (shared is ConflictKind.SHARED_EMAIL or candidates):
            conflicts[user.directory_id] = Conflict(
                shared, f"{len(others) + 1} users in scope have this {what}", others
            )
            return True
        for active in (True, False):
            level = [contact for contact in candidates if contact.active is active]
            if len(level) == 1:
                matches[user.directory_id] = Match(level[0].id, by)
                return True
            if level:
                state = "active" if active else "inactive"
                conflicts[user.directory_id] = Conflict(
                    ConflictKind.SEVERAL_CONTACTS,
                    f"{len(level)} {state} contacts have this {what}",
                    contacts=tuple(sorted(contact.id for contact in level)),
                )
                return True
        return False

    # Each step claims its contacts for all users at once: two users never take one contact
    # at one step (they would share the e-mail or the name, a conflict). A contact a later
    # step gives one user was a candidate of another's earlier step, which may have been a
    # conflict for it: the next run, seeing that contact mapped, would match that user after
    # all. So the steps repeat, with every match so far claimed, until no match is added:
    # what the run decides is what the next run, changing nothing, decides again.
    steps = [
        (by, key_of, shared, _index(considered, key_of), _index_contacts(contacts, key_of))
        for by, key_of, shared in (
            (MatchStep.EMAIL, email_key, ConflictKind.SHARED_EMAIL),
            (MatchStep.NAME, name_key, ConflictKind.SHARED_NAME),
        )
        if pending  # every user is mapped (an idle run): no index to build
    ]
    while pending:
        conflicts.clear()
        claimed.update(match.contact_id for match in matches.values() if match.contact_id)
        found = len(matches)
        undecided = pending
        for by, key_of, shared, sharing, index in steps:
            still = []
            for user in undecided:
                key = key_of(user.values)
                if not key or not step(user, key, sharing, index, by, shared):
                    still.append(user)
            claimed.update(
                match.contact_id
                for match in matches.values()
                if match.contact_id is not None and match.step is by
            )
            undecided = still
        pending = [user for user in pending if user.directory_id not in matches]
        if len(matches) == found:
            break
    for user in pending:
        if user.directory_id not in conflicts:
            matches[user.directory_id] = Match(None, MatchStep.NEW)
    return Matching(matches, conflicts, excluded, frozenset(released))


KeyOf = Callable[[ContactValues], str]


def _index(users: Iterable[DirectoryUser], key_of: KeyOf) -> dict[str, list[str]]:
    index: dict[str, list[str]] = defaultdict(list)
    for user in users:
        key = key_of(user.values)
        if key:
            index[key].append(user.directory_id)
    return index


def _index_contacts(contacts: Iterable[PsaContact], key_of: KeyOf) -> dict[str, list[PsaContact]]:
    index: dict[str, list[PsaContact]] = defaultdict(list)
    for contact in contacts:
        key = key_of(contact.values)
        if key:
            index[key].append(contact)
    return index

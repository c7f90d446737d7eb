"""The emulated tenant's directory: Entra ID users and groups, and who is a member of what.

Kept apart from the mailboxes (the EWS store): a directory user needs no mailbox, and AD
Sync reads only the directory. Ids are derived from the user principal name and the
group's name, so the demo's directory keeps its ids across restarts (AD Sync maps
contacts by them). Groups hold users and groups; membership may nest and even loop, and
the transitive members are the users and groups reached, each once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

USER_PROPERTIES = (
    "id",
    "accountEnabled",
    "businessPhones",
    "city",
    "country",
    "department",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "postalCode",
    "preferredLanguage",
    "state",
    "streetAddress",
    "surname",
    "userPrincipalName",
)
"""The user properties the emulator serves. Graph's user has no middle name: AD Sync's
middle name stays blank for Entra ID."""
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
"""What Graph answers for a user without ``$select`` (accountEnabled, department and the
address are only sent when selected)."""
GROUP_PROPERTIES = (
    "id",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
)
USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
_IDS = uuid.UUID("3d9f8a62-1c4b-4e70-9a2d-5b6c7e8f9a01")


def object_id(kind: str, name: str) -> str:
    """A stable object id for a user (by principal name) or group (by name)."""
    return str(uuid.uuid5(_IDS, f"{kind}:{name.lower()}"))


@dataclass
class Tenant:
    """Users and groups as Graph's JSON (every served property present, null when unset)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, dict[str, None]] = field(default_factory=dict)
    """Direct members of each group (an ordered set: adding 100,000 stays linear)."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    _version: int = 0
    _closures: dict[tuple[str, bool, str | None, int], list[tuple[str, dict[str, Any]]]] = field(
        default_factory=dict
    )

    def add_user(
        self, user_principal_name: str, account_enabled: bool = True, **properties: Any
    ) -> str:
        """A user (Graph's property names, e.g. ``givenName="Ava"``); its id."""
        _check(properties, USER_PROPERTIES)
        user: dict[str, Any] = dict.fromkeys(USER_PROPERTIES)
        user |= {"businessPhones": [], **properties}
        user["id"] = properties.get("id") or object_id("user", user_principal_name)
        user["userPrincipalName"] = user_principal_name
        user["accountEnabled"] = account_enabled
        if not user["displayName"]:
            names = [user["givenName"] or "", user["surname"] or ""]
            user["displayName"] = " ".join(filter(None, names)) or user_principal_name
        with self.lock:
            self.users[user["id"]] = user
            self._changed()
        return str(user["id"])

    def update_user(self, user_id: str, **properties: Any) -> None:
        _check(properties, USER_PROPERTIES)
        with self.lock:
            self.users[user_id].update(properties)
            self._changed()

    def remove_user(self, user_id: str) -> None:
        """Deleted: gone from the directory and from every group."""
        with self.lock:
            del self.users[user_id]
            for members in self.members.values():
                members.pop(user_id, None)
            self._changed()

    def add_group(self, display_name: str, **properties: Any) -> str:
        _check(properties, GROUP_PROPERTIES)
        group: dict[str, Any] = dict.fromkeys(GROUP_PROPERTIES)
        group |= {"groupTypes": [], "mailEnabled": False, "securityEnabled": True, **properties}
        group["id"] = properties.get("id") or object_id("group", display_name)
        group["displayName"] = display_name
        with self.lock:
            self.groups[group["id"]] = group
            self.members.setdefault(group["id"], {})
            self._changed()
        return str(group["id"])

    def add_member(self, group_id: str, member_id: str) -> None:
        """A user or group becomes a direct member (a second add changes nothing)."""
        with self.lock:
            if member_id not in self.users and member_id not in self.groups:
                raise KeyError(f"no user or group {member_id}")
            members = self.members[group_id]
            if member_id not in members:
                members[member_id] = None
                self._changed()

    def remove_member(self, group_id: str, member_id: str) -> None:
        with self.lock:
            del self.members[group_id][member_id]
            self._changed()

    def user(self, key: str) -> dict[str, Any] | None:
        """A user by id or by user principal name (case-insensitive)."""
        with self.lock:
            found = self.users.get(key.lower())
            if found is not None:
                return found
            return next(
                (u for u in self.users.values() if u["userPrincipalName"].lower() == key.lower()),
                None,
            )

    def group(self, group_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.groups.get(group_id.lower())

    def members_of(
        self, group_id: str, transitive: bool, only: str | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """(type, object) of the group's members by id (of type ``only`` if given);
        transitively, every user and group reached through nested groups, each once, loops
        included. Kept until the directory changes: a listing's pages ask again and again."""
        with self.lock:
            key = (group_id, transitive, only, self._version)
            if key not in self._closures:
                found = self._members(group_id, transitive)
                self._closures = {key: [entry for entry in found if only in (None, entry[0])]}
            return self._closures[key]

    def _members(self, group_id: str, transitive: bool) -> list[tuple[str, dict[str, Any]]]:
        reached: set[str] = set()
        pending = list(self.members.get(group_id, ()))
        while pending:
            member = pending.pop()
            if member in reached:
                continue
            reached.add(member)
            if transitive and member in self.groups:
                pending.extend(self.members[member])
        reached.discard(group_id)
        return [
            (USER_TYPE, self.users[member])
            if member in self.users
            else (GROUP_TYPE, self.groups[member])
            for member in sorted(reached)
        ]

    def _changed(self) -> None:
        self._version += 1


def _check(properties: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(properties) - set(known))
    if unknown:
        raise ValueError(f"the emulator's directory has no property {unknown[0]!r}")

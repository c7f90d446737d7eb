"""What AD Sync reads and writes, whichever directory and PSA source it talks to.

A directory (Entra ID over Graph, or Active Directory over LDAPS) yields the users in an
organization's scope; the PSA holds that organization's contacts. The sync plans from the
two and writes contacts only: one way, never back to the directory, never a resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.psa.contacts import ContactValues


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user in the organization's directory scope."""

    directory_id: str
    """Stable across renames and moves: Entra ID's object id, AD's objectGUID."""
    login: str
    """What the admin recognises: the user principal name or sAMAccountName."""
    values: ContactValues
    enabled: bool = True
    """A disabled account counts as out of scope: its contact becomes inactive."""


@dataclass(frozen=True, slots=True)
class CheckStep:
    """One step of *Test connection*: the first failure ends the test."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """The LDAPS server's certificate as the console's SSL status column shows it."""

    valid: bool
    not_after: datetime | None
    detail: str
    """"valid until 2027-03-01", or why not: expired, self-signed, wrong host."""


class DirectoryError(Exception):
    """The directory could not be read: the run fails and changes nothing (never taken
    for an empty scope, which would make every contact inactive)."""


class Directory(Protocol):
    """An organization's directory, read-only."""

    def users(self) -> Iterator[DirectoryUser]:
        """Every user in scope, disabled ones included (flagged); raises
        :class:`DirectoryError` rather than end early."""
        ...

    def check(self) -> Iterator[CheckStep]: ...

    def close(self) -> None: ...

"""What AD Sync reads and writes, whichever directory and PSA source it talks to.

A directory (Entra ID over Graph, or Active Directory over LDAPS) yields the users in an
organization's scope; the PSA holds that organization's contacts. The sync plans from the
two and writes contacts only: one way, never back to the directory, never a resource.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from engine.errors import UserError

WRITE_BATCH = 500
"""Contacts written per PSA request batch, as the vendor's module does."""


@dataclass(frozen=True, slots=True)
class ContactValues:
    """The contact fields a directory can fill; ``""`` means blank, and a blank directory
    value never overwrites a PSA value."""

    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    email: str = ""
    title: str = ""
    department: str = ""
    phone: str = ""
    mobile_phone: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


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
class PsaContact:
    """A contact of the organization in the PSA, active or not."""

    id: int
    company_id: int
    values: ContactValues
    active: bool = True


@dataclass(frozen=True, slots=True)
class ContactWrite:
    """One contact to create (``contact_id`` None) or update: only the fields named in
    ``changed`` are written, and ``active`` when it is not None."""

    contact_id: int | None
    values: ContactValues
    changed: frozenset[str] = field(default_factory=frozenset)
    active: bool | None = None


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


class ContactWriteError(UserError):
    """A batch of contact writes stopped at ``index``: the contact to update is gone (deleted
    in the PSA, or no longer the organization's), or the PSA refused the write.

    ``written`` holds the ids of the writes before ``index`` that the PSA applied, in order:
    empty when the batch was refused or undone whole (the embedded PSA writes a batch in one
    transaction; the REST API checks the batch's contacts before its first write)."""

    def __init__(self, message: str, index: int, written: Sequence[int] = ()) -> None:
        super().__init__(message)
        self.index = index
        self.written = tuple(written)


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


class PsaContacts(Protocol):
    """The PSA's contacts of one organization: what AD Sync reads and the only thing it
    writes."""

    def company_contacts(self, company_id: int) -> list[PsaContact]:
        """Active and inactive contacts of the company; a company the PSA does not have is
        a :class:`~engine.errors.UserError`, never an organization without contacts."""
        ...

    def stored_values(self, values: ContactValues) -> ContactValues:
        """``values`` as this PSA would keep them: cut to its field lengths, mapped onto
        its lists (countries), blank where it has no field. Compare a directory user's
        values through it, so that what the PSA cannot hold is not planned again on every
        run."""
        ...

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        """Apply at most :data:`WRITE_BATCH` writes (issue 19: batches of 500); the contact
        ids in the same order (new ones for creations). A creation needs a first and a last
        name; a blank value is never written, even when named in ``changed``. Raises
        :class:`ContactWriteError` for a write the PSA cannot apply."""
        ...

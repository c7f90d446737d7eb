"""A PSA organization's contacts as AD Sync reads and writes them (the only PSA records it
writes), and what both PSA sources check before they write them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
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


CONTACT_FIELDS = tuple(each.name for each in fields(ContactValues))
"""The contact fields a directory can fill, in ContactValues' order."""


def require_batch(writes: Sequence[ContactWrite]) -> None:
    """Issue 19: batches of 500; a longer one is the caller's mistake, not the PSA's."""
    if len(writes) > WRITE_BATCH:
        raise ValueError(f"{len(writes)} contact writes in one batch; at most {WRITE_BATCH}")


def require_names(write: ContactWrite, index: int) -> None:
    """A new contact needs a first and a last name, as the PSA requires."""
    if not (write.values.first_name.strip() and write.values.last_name.strip()):
        raise ContactWriteError(
            "a new PSA contact needs a first and a last name"
            f" (got {write.values.first_name!r} {write.values.last_name!r})",
            index,
        )


def written_values(write: ContactWrite) -> dict[str, str]:
    """The fields an update writes: those named in ``changed`` that are not blank (a blank
    directory value never overwrites a PSA value)."""
    unknown = write.changed - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"not contact fields: {', '.join(sorted(unknown))}")
    return {
        name: getattr(write.values, name)
        for name in CONTACT_FIELDS
        if name in write.changed and getattr(write.values, name).strip()
    }

"""What both PSA sources check before they write AD Sync's contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from engine.adsync.model import WRITE_BATCH, ContactValues, ContactWrite, ContactWriteError

CONTACT_FIELDS = tuple(field.name for field in fields(ContactValues))
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

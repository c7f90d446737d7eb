"""The interface the engine reads the PSA through: the embedded SQLite PSA or the REST API."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Protocol

from engine.errors import UserError
from engine.psa.model import (
    CalendarRecord,
    ChangeSummary,
    Company,
    Contact,
    ImportedAppointment,
    Resource,
    TicketEvent,
)
from engine.settings.model import ContactScope


class RecordGoneError(UserError):
    """The record was deleted in the PSA after the run read it: the next run's reconcile
    sees it gone and acts on that, so this write is skipped, not failed."""


class PsaSource(Protocol):
    """Reads what each user should receive, and writes back what the mailbox may change.

    The engine writes only appointments that came from a mailbox (``save_imported``,
    ``delete_imported``) and the date and time of appointments and to-dos (``move``, R16).
    """

    def resources(self) -> list[Resource]: ...

    def companies(self) -> list[Company]:
        """Every company (the organizations AD Sync may sync), by name."""
        ...

    def cursor(self) -> str:
        """An opaque position in the PSA's change history; pass it to ``changes_since``."""
        ...

    def changes_since(self, cursor: str) -> ChangeSummary: ...

    def calendar_records(
        self, resource_id: int, start: datetime, end: datetime
    ) -> list[CalendarRecord]:
        """Appointments, to-dos and service calls of a resource overlapping [start, end)."""
        ...

    def followed_records(self, resource_id: int, keys: Collection[str]) -> list[CalendarRecord]:
        """The resource's calendar records with these keys, wherever they are now: records
        that left the sync window are followed by their id, not taken for deleted."""
        ...

    def contacts(self, resource_id: int, scope: ContactScope) -> list[Contact]:
        """All active contacts, or the active ones whose company the resource manages or with
        an opportunity it owns (R08); an inactive contact is no one's to share."""
        ...

    def save_imported(
        self, resource_id: int, appointment: ImportedAppointment, record_id: int | None = None
    ) -> int:
        """Create or update an appointment that came from a mailbox; ``record_id`` is the
        record it was imported as, when the planner found one (by the origin key the
        record carries). The record keeps its origin key, whatever else is lost."""
        ...

    def delete_imported(self, record_id: int) -> None: ...

    def rekey_imported(self, rekey: Callable[[str], str]) -> None:
        """Rename the origin keys of every imported appointment (the profile switched its
        mailbox API, which names the same items differently); a key already renamed stays."""
        ...

    def move(self, key: str, start: datetime, end: datetime) -> None:
        """Change only the date and time of an appointment or to-do (R16); raises
        :class:`RecordGoneError` when the record no longer exists."""
        ...

    def ticket_changes(self, cursor: str | None) -> tuple[list[TicketEvent], str]:
        """Tickets created, assigned (primary resource changed), or changed in status or
        priority since ``cursor`` (an opaque position of this source; ``None`` starts
        watching from now), and the cursor to pass next. Pass the new cursor only once the
        events are safely handled: passing the old one again returns them again, with the
        same ``dedup_key``s."""
        ...

    def tickets_due(self, start: datetime, end: datetime) -> list[TicketEvent]:
        """Open tickets due in [start, end), as due-soon events."""
        ...

    def close(self) -> None: ...

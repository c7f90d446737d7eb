"""Ticket picklists, and what both PSA sources share to turn tickets into events.

The picklist values are the PSA's defaults for the Tickets entity (a real PSA lists its
own, possibly renamed or extended, at ``Tickets/entityInformation/fields``; the REST source
reads them there, the embedded PSA and the REST peer use these).
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.psa.model import Choice

STATUS_NEW = 1
STATUS_COMPLETE = 5
TICKET_STATUSES: Mapping[int, str] = {
    STATUS_NEW: "New",
    8: "In Progress",
    7: "Waiting Customer",
    9: "Waiting Materials",
    12: "Waiting Vendor",
    STATUS_COMPLETE: "Complete",
}
TICKET_PRIORITIES: Mapping[int, str] = {4: "Critical", 1: "High", 2: "Medium", 3: "Low"}
TICKET_QUEUES: Mapping[int, str] = {
    5: "Client Portal",
    6: "Post Sale",
    8: "Monitoring Alert",
    29682833: "Level I Support",
    29682969: "Level II Support",
}
PRIORITY_MEDIUM = 2


class Picklists:
    """A ticket's status, priority and queue values with their labels."""

    def __init__(
        self,
        statuses: Mapping[int, str] = TICKET_STATUSES,
        priorities: Mapping[int, str] = TICKET_PRIORITIES,
        queues: Mapping[int, str] = TICKET_QUEUES,
    ) -> None:
        self.statuses = statuses
        self.priorities = priorities
        self.queues = queues

    def status(self, value: int) -> Choice:
        return _choice(self.statuses, value)

    def priority(self, value: int) -> Choice:
        return _choice(self.priorities, value)

    def queue(self, value: int | None) -> Choice | None:
        return None if value is None else _choice(self.queues, value)


def _choice(labels: Mapping[int, str], value: int) -> Choice:
    """A value the picklist does not know (inactive, or added since it was read) keeps
    its number as its label rather than failing the read."""
    return Choice(value, labels.get(value, str(value)))

"""Why a user is synced, and the requests that say so (issue 21's shared seam).

A request names its users and, per user, the time of the earliest change it carries: the
PSA record's modification time for ``psa-change``, the notification's time stamp for
``mailbox``. Latency is measured from that time to the user's first write of the run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from engine.psa.model import earliest_per_key

SCHEDULE = "schedule"
"""The full run every interval (R01)."""
PSA_CHANGE = "psa-change"
"""The PSA change poll named the user."""
MAILBOX = "mailbox"
"""A mailbox notification named the user."""

_LABELS = {SCHEDULE: "schedule", PSA_CHANGE: "PSA change", MAILBOX: "mailbox notification"}


def trigger_label(trigger: str | None) -> str:
    """What a person reads: the three event-driven triggers by name; ``cli``, ``console``
    and ``setup`` (someone asked) all as "admin"."""
    if trigger is None:
        return ""
    return _LABELS.get(trigger, "admin")


def written_side(trigger: str) -> str | None:
    """The side whose first write ends a trigger's latency: a PSA change is seen once it is
    in the mailbox, a mailbox change once it is in the PSA; others carry no change time."""
    return {PSA_CHANGE: "mailbox", MAILBOX: "psa"}.get(trigger)


@dataclass(frozen=True)
class SyncRequest:
    """Sync these users now (every enabled user when ``user_ids`` is empty: a full run)."""

    trigger: str
    user_ids: frozenset[int] = frozenset()
    changed_at: Mapping[int, datetime] = field(default_factory=lambda: MappingProxyType({}))
    """Per user, the earliest change the request carries; may be empty."""

    @property
    def full(self) -> bool:
        return not self.user_ids

    def merged(self, other: SyncRequest) -> SyncRequest:
        """One request for both (same trigger): the union of users, and per user the
        earliest change time."""
        return SyncRequest(
            self.trigger,
            self.user_ids | other.user_ids,
            earliest((self.changed_at, other.changed_at)),
        )


def earliest(times: Iterable[Mapping[int, datetime]]) -> Mapping[int, datetime]:
    """Per user, the earliest of the times given for it."""
    return MappingProxyType(earliest_per_key(pair for mapping in times for pair in mapping.items()))


LATENCY_DIRECTIONS = {"psa_to_mailbox": PSA_CHANGE, "mailbox_to_psa": MAILBOX}
"""The two latencies ``msext status --json`` reports, by the trigger that measures each."""


def latency_figures(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, median and 95th percentile (nearest rank) of latencies in seconds."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "median_s": None, "p95_s": None}
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return {
        "count": len(ordered),
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[rank - 1], 3),
    }

"""What follows every sync run and AD sync run, whichever module ran it: the Teams
notification rules look at what happened (the happenings just published, PSA tickets and
service calls) and queue their cards. A failure here is logged and never fails the run:
the daemon's next look tries again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from engine.profile import Profile
from engine.teams.watch import post_new

log = logging.getLogger(__name__)


def after_run(profile: Profile, now: datetime | None = None) -> int:
    """Queue what the Teams rules ask for now; how many cards were queued."""
    try:
        return post_new(profile, now or datetime.now(UTC))
    except Exception:
        log.exception("Teams notifications were not evaluated after the run")
        return 0

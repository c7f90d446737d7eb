"""The PSA change poll: every ``exchange.sync.psa_poll_seconds`` the PSA's change summary
names the users a change touched, and those users are synced at once (issue 21).

The summary costs one query of the embedded PSA when nothing changed, and
:data:`~engine.psa.budget.REST_IDLE_POLL_REQUESTS` requests of the REST API, whatever the
number of users; the settings refuse an interval that would spend more than msext's share
of the API's hourly budget. The poll's cursor lives in memory: a change it never saw (the
daemon stopped) is still behind each user's own PSA cursor, which the next run reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection

from engine.errors import UserError
from engine.exchange.capabilities import exchange_scope
from engine.exchange.sync import select_users
from engine.exchange.triggers import PSA_CHANGE, SyncRequest
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.model import ChangeSummary, RecordKind
from engine.settings.model import Settings

log = logging.getLogger(__name__)

OFF_RECHECK_SECONDS = 60.0
"""How often a poll turned off (0) looks whether it was turned on again."""


def psa_change_request(
    summary: ChangeSummary, settings: Settings, enabled: Collection[int]
) -> SyncRequest | None:
    """The users among ``enabled`` that a change summary names: those with a touched
    record, and on a contact, company or opportunity change every user who syncs
    contacts (R08); ``None`` when it names no one."""
    users = {user for user in summary.resource_ids if user in enabled}
    changed_at = {user: summary.changed_at[user] for user in users if user in summary.changed_at}
    if summary.contacts_changed or summary.companies_or_opportunities_changed:
        for user in enabled:
            if RecordKind.CONTACT in exchange_scope(settings, user).kinds:
                users.add(user)
                shared = summary.shared_changed_at
                if shared and (user not in changed_at or shared < changed_at[user]):
                    changed_at[user] = shared
    if not users:
        return None
    return SyncRequest(PSA_CHANGE, frozenset(users), changed_at)


class PsaPoll:
    """One profile's poll: its own connection to the PSA, its cursor from when it began."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.cursor = profile.psa.cursor()

    def poll(self) -> SyncRequest | None:
        """One look at the PSA since the last; the request it calls for, if any."""
        summary = self.profile.psa.changes_since(self.cursor)
        request = None
        if not summary.empty:
            try:
                enabled = {user.id for user in select_users(self.profile)}
            except UserError:
                enabled = set()
            request = psa_change_request(summary, self.profile.settings, enabled)
        self.cursor = summary.cursor
        return request


def serve_psa_poll(
    paths: ProfilePaths, request: Callable[[SyncRequest], None], stop: threading.Event
) -> None:
    """Poll until ``stop``, handing each request to ``request`` (the scheduler's); settings
    are read again before each poll, so the interval (0: off) takes effect at once."""
    profile = Profile(paths)
    poll: PsaPoll | None = None
    seconds = 0
    try:
        while not stop.is_set():
            try:
                seconds = profile.reload().exchange.sync.psa_poll_seconds
                if seconds and poll is None:
                    poll = PsaPoll(profile)  # changes from now on; earlier ones are runs' own
                elif seconds and poll is not None and (found := poll.poll()) is not None:
                    log.info("PSA changes for users %s", sorted(found.user_ids))
                    request(found)
            except Exception as error:
                log.warning("the PSA change poll failed (the interval's runs cover it): %s", error)
            stop.wait(seconds or OFF_RECHECK_SECONDS)
    finally:
        profile.close()

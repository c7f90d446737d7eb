"""Mailbox notifications for the daemon: the watcher of the profile's mailbox API, turned
into sync requests, with its health kept for ``msext status`` and the console.

The watchers themselves (``engine/exchange/mailbox/ews_streaming.py``, EWS streaming
notifications; ``graph_notifications.py``, Graph change notifications to an HTTPS endpoint
the admin gives) share one entry point, ``serve(settings, paths, users, on_change, report,
stop)``. Without a watcher, or with Graph and no endpoint, the mailboxes are polled by the
interval's full runs, and the report says so. A lapse is never silent: it is stored,
logged as a warning, and the full runs still cover the mailbox.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.exchange.triggers import MAILBOX, SyncRequest

if TYPE_CHECKING:
    from engine.profile import Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchReport:
    api: str  # "ews" | "graph"
    mode: str  # "notifications" | "polling" (fallback or not configured)
    watched: int  # mailboxes with a live subscription
    lapsed: Mapping[str, str]  # address -> why its subscription lapsed or failed
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "api": self.api,
            "mode": self.mode,
            "watched": self.watched,
            "lapsed": dict(self.lapsed),
            "at": self.at.isoformat(),
        }


WATCHERS = {
    "ews": "engine.exchange.mailbox.ews_streaming",
    "graph": "engine.exchange.mailbox.graph_notifications",
}
"""The watcher module of each mailbox API (each has ``serve``)."""


def mailbox_request(user_id: int, at: datetime) -> SyncRequest:
    """A mailbox notification as a sync of its user."""
    return SyncRequest(MAILBOX, frozenset({user_id}), {user_id: at})


def serve_mailbox_watch(
    profile: Profile, request: Callable[[SyncRequest], None], stop: threading.Event
) -> None:
    """Watch the profile's mailboxes until ``stop``; each change becomes ``request(...)``
    (the scheduler's). Returns at once, reporting "polling", when notifications are off or
    Graph has no notification URL."""
    settings = profile.settings
    api = settings.exchange.general.mailbox_api.value
    previous: list[WatchReport] = []

    def report(health: WatchReport) -> None:
        profile.state.save_watch_report(health)
        before = previous[-1].lapsed if previous else {}
        for address, why in health.lapsed.items():
            if before.get(address) != why:
                log.warning(
                    "mailbox notifications for %s lapsed (%s): the interval's runs cover it",
                    address,
                    why,
                )
        previous[:] = [health]

    def polling(why: str) -> None:
        log.info("mailbox changes are found by the interval's runs: %s", why)
        report(WatchReport(api, "polling", 0, {}, datetime.now(UTC)))

    if not settings.exchange.sync.mailbox_notifications:
        polling("mailbox notifications are turned off (exchange.sync.mailbox_notifications)")
        return
    if api == "graph" and not settings.exchange.general.notification_url:
        polling("no notification URL is set (exchange.general.notification_url)")
        return
    watcher = importlib.import_module(WATCHERS[api])
    try:
        watcher.serve(
            settings,
            profile.paths,
            lambda: _mailboxes(profile),
            lambda user_id, at: request(mailbox_request(user_id, at)),
            report,
            stop,
        )
    except Exception as error:
        log.exception("the %s mailbox watcher stopped", api)
        polling(f"the {api} mailbox watcher stopped: {error}")


def _mailboxes(profile: Profile) -> Mapping[str, int]:
    """Mailbox address (lower case) -> user id, of the enabled users now (none while the
    extension is off)."""
    from engine.exchange.sync import select_users

    profile.reload()
    try:
        users = select_users(profile)
    except UserError:
        return {}
    return {profile.mailbox_address(user).lower(): user.id for user in users}

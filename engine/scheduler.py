"""When runs happen: every interval (never below 10 minutes, R01), and "run now" on request.

The scheduler owns no sync logic: it calls ``run(users)`` (all enabled users when ``None``)
at the interval the settings give at that moment, so a saved change of the interval takes
effect at the next wait. Requests for one user or all are queued and served first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue

from engine.exchange.runner import utc_now
from engine.settings.model import MIN_SYNC_INTERVAL_MINUTES

log = logging.getLogger(__name__)

ALL_USERS: frozenset[int] = frozenset()
"""A request for every enabled user."""


class Scheduler:
    def __init__(
        self,
        run: Callable[[frozenset[int]], object],
        interval_minutes: Callable[[], int],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._run = run
        self._interval = interval_minutes
        self._clock = clock
        self._requests: SimpleQueue[frozenset[int]] = SimpleQueue()
        self.next_run: datetime = clock()

    def interval(self) -> timedelta:
        """The configured interval, never below the seed's minimum."""
        return timedelta(minutes=max(MIN_SYNC_INTERVAL_MINUTES, self._interval()))

    def request(self, user_ids: Iterable[int] = ()) -> None:
        """Run now: for these users, or for all when none are given."""
        self._requests.put(frozenset(user_ids))

    def run_pending(self, stop: threading.Event) -> bool:
        """Serve one queued request or the scheduled run if due; whether a run happened."""
        try:
            users = self._requests.get_nowait()
        except Empty:
            if self._clock() < self.next_run:
                return False
            users = ALL_USERS
        if stop.is_set():
            return False
        try:
            self._run(users)
        except Exception:
            log.exception("scheduled run failed")
        if users == ALL_USERS:
            self.next_run = self._clock() + self.interval()
        return True

    def serve(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Run until ``stop`` is set (a service manager's SIGTERM)."""
        while not stop.is_set():
            if not self.run_pending(stop):
                stop.wait(poll_seconds)

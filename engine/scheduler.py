"""When runs happen: the full run every interval (never below 10 minutes, R01), and the
requests that name users (a PSA change, a mailbox notification, an admin's "run now").

The scheduler owns no sync logic: it calls ``run(request)`` at the interval the settings
give at that moment, so a saved change of the interval takes effect at the next wait.
Queued requests of one trigger coalesce (the union of their users, the earliest change
time per user). A named run never moves the next full run, and a due full run goes before
named ones, so a busy stream of changes neither delays nor multiplies the full runs. A
request whose run could not take the profile's lock (another run held it past the wait)
is queued again, never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from engine.exchange.runner import utc_now
from engine.exchange.triggers import SCHEDULE, SyncRequest
from engine.run_lock import SyncBusyError
from engine.settings.model import MIN_SYNC_INTERVAL_MINUTES

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        run: Callable[[SyncRequest], object],
        interval_minutes: Callable[[], int],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._run = run
        self._interval = interval_minutes
        self._clock = clock
        self._wake = threading.Condition()
        self._named: dict[str, SyncRequest] = {}
        """Queued named requests, one per trigger, oldest trigger first."""
        self._full: SyncRequest | None = None
        """A queued request for every user (an admin's "run now")."""
        self.next_run: datetime = clock()

    def interval(self) -> timedelta:
        """The configured interval, never below the seed's minimum."""
        return timedelta(minutes=max(MIN_SYNC_INTERVAL_MINUTES, self._interval()))

    def request(self, request: SyncRequest) -> None:
        """Queue a run (thread-safe); it merges with a queued one of the same trigger."""
        with self._wake:
            if request.full:
                self._full = request
            else:
                queued = self._named.get(request.trigger)
                self._named[request.trigger] = queued.merged(request) if queued else request
            self._wake.notify_all()

    def pending(self) -> list[SyncRequest]:
        """What is queued, full request first."""
        with self._wake:
            return ([self._full] if self._full else []) + list(self._named.values())

    def _next(self) -> SyncRequest | None:
        with self._wake:
            if self._clock() >= self.next_run:
                self._full = None  # the scheduled run covers an admin's run of everyone
                return SyncRequest(SCHEDULE)
            if self._full is not None:
                request, self._full = self._full, None
                return request
            if self._named:
                trigger = next(iter(self._named))
                return self._named.pop(trigger)
            return None

    def run_pending(self, stop: threading.Event) -> bool:
        """Serve the due full run, else one queued request; whether a run was attempted."""
        if stop.is_set():
            return False
        request = self._next()
        if request is None:
            return False
        try:
            self._run(request)
        except SyncBusyError as busy:
            if request.full:
                log.warning("%s run skipped: %s", request.trigger, busy)
            else:
                log.warning("%s run postponed: %s", request.trigger, busy)
                self.request(request)
        except Exception:
            log.exception("%s run failed", request.trigger)
        if request.full:
            self.next_run = self._clock() + self.interval()
        return True

    def serve(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Run until ``stop`` is set (a service manager's SIGTERM); a request wakes it."""
        while not stop.is_set():
            if self.run_pending(stop):
                continue
            with self._wake:
                if not (self._named or self._full):
                    self._wake.wait(poll_seconds)

"""The console's "sync now": one run at a time, in a thread, outliving the page that started it.

The run's state (per-user progress, the log, the finished result) lives here rather than on
the Activity screen, so leaving the screen neither stops the run nor loses what it said.
Screens subscribe to hear of changes; every change is applied on the app's thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING

from textual.app import App

from engine.errors import UserError
from engine.exchange.runner import Progress, RunFinished, RunResult, UserResult, utc_now
from engine.exchange.sync import sync
from engine.humanize import count
from engine.psa.model import Resource
from engine.redaction import redactor
from engine.run_lock import RunLock, SyncBusyError

if TYPE_CHECKING:
    from engine.profile import Profile

log = logging.getLogger(__name__)

PHASE_SHARE = {"connect": 0.05, "pull": 0.2, "plan": 0.4, "apply": 0.4, "idle": 1.0, "done": 1.0}
"""How far through a user's sync each phase starts; ``apply`` fills the rest by items."""


class Level(IntEnum):
    INFO = 20
    WARNING = 30
    ERROR = 40

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    level: Level
    user: str
    text: str

    def line(self) -> str:
        who = f"{self.user}: " if self.user else ""
        return f"{self.at:%m-%d %H:%M:%S} {self.level!s:<7} {who}{self.text}"


@dataclass
class UserProgress:
    name: str
    phase: str = "queued"
    fraction: float = 0.0
    result: UserResult | None = None


@dataclass
class SessionState:
    running: bool = False
    cancelling: bool = False
    started: float = 0.0
    elapsed: float = 0.0
    users: dict[int, UserProgress] = field(default_factory=dict)
    done: int = 0
    result: RunResult | None = None
    log: list[LogEntry] = field(default_factory=list)


class SyncSession:
    """Starts runs for the console and keeps what they report."""

    def __init__(self, app: App[None], profile: Profile) -> None:
        self.app = app
        self.profile = profile
        self.state = SessionState()
        self._cancel = threading.Event()
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def start(self, users: Sequence[Resource]) -> bool:
        """Start a run over ``users``; False (and a notification) if one is running."""
        if self.state.running:
            self.app.notify("A sync is already running; wait for it or cancel it (x).")
            return False
        if not users:
            self.app.notify("Nobody to sync: no user is enabled.", severity="warning")
            return False
        try:
            RunLock(self.profile.paths).check()
        except SyncBusyError as busy:
            self._log(Level.WARNING, "", f"sync not run: {busy}", notify=False)
            self.app.notify(f"Sync not run: {busy}", severity="warning", timeout=10)
            self._changed()
            return False
        self._cancel.clear()
        self.state = SessionState(
            running=True,
            started=time.monotonic(),
            users={user.id: UserProgress(user.name) for user in users},
            log=self.state.log,
        )
        who = users[0].name if len(users) == 1 else count(len(users), "user")
        self._log(Level.INFO, "", f"sync started for {who}")
        self.app.run_worker(
            lambda: self._run(list(users)),
            thread=True,
            group="sync",
            exit_on_error=False,
            name="sync-now",
        )
        return True

    def cancel(self) -> None:
        """Ask the run to stop after the current step of each user."""
        if self.state.running and not self.state.cancelling:
            self.state.cancelling = True
            self._cancel.set()
            self._log(Level.WARNING, "", "cancelling: users not yet started are skipped")

    def load_history(self) -> None:
        """Begin an empty log with the last recorded run, so the page is never blank."""
        if self.state.log or self.state.running:
            return
        profile = self.profile
        runs = profile.state.runs(limit=1)
        if not runs:
            return
        run = runs[0]
        names = {resource.id: resource.name for resource in profile.resources()}
        parts = sorted(
            profile.state.run_users(run.id), key=lambda part: names.get(part.user_id, "")
        )
        for part in parts:
            self.state.log.append(
                LogEntry(
                    part.finished_at,
                    _level(part.outcome, part.errors),
                    names.get(part.user_id, f"user {part.user_id}"),
                    _outcome_line(
                        part.outcome,
                        part.created,
                        part.updated,
                        part.deleted,
                        part.errors,
                        part.message,
                    ),
                )
            )
        self.state.log.append(
            LogEntry(
                run.finished_at or run.started_at,
                Level.ERROR if run.outcome == "errors" else Level.INFO,
                "",
                f"run {run.id} ({run.trigger}) finished: {run.outcome or 'unfinished'};"
                f" created {run.created}, updated {run.updated}, deleted {run.deleted},"
                f" skipped {run.skipped}, errors {run.errors}",
            )
        )

    # -- on the worker's thread --------------------------------------------------------------

    def _run(self, users: list[Resource]) -> None:
        try:
            for event in sync(self.profile, users, trigger="console", cancel=self._cancel):
                self.app.call_from_thread(self._apply, event)
        except UserError as error:
            self.app.call_from_thread(self._failed, redactor.redact(str(error)))
        except Exception as error:
            log.exception("sync from the console failed")
            where = self.profile.paths.log_file
            self.app.call_from_thread(
                self._failed, f"internal error: {redactor.redact(str(error))} (details in {where})"
            )

    # -- on the app's thread -----------------------------------------------------------------

    def _apply(self, event: Progress | RunFinished) -> None:
        if isinstance(event, RunFinished):
            self._finished(event.result)
        else:
            self._progress(event)
        self._changed()

    def _progress(self, event: Progress) -> None:
        user = self.state.users.get(event.user_id)
        if user is None:
            return
        user.phase = event.phase
        if event.phase == "done":
            user.phase = event.message or event.phase
            self.state.done = event.done
            user.fraction = 1.0
            return
        share = PHASE_SHARE.get(event.phase, user.fraction)
        if event.phase == "apply" and event.total:
            share += (1.0 - share) * event.done / event.total
        user.fraction = max(user.fraction, min(share, 1.0))
        if event.message and event.phase != "apply":
            self._log(Level.INFO, user.name, f"{event.phase}: {event.message}", notify=False)

    def _finished(self, result: RunResult) -> None:
        for user in result.users:
            progress = self.state.users.get(user.user_id)
            if progress is not None:
                progress.result = user
            totals = user.totals
            line = _outcome_line(
                user.outcome,
                totals["created"],
                totals["updated"],
                totals["deleted"],
                user.errors,
                user.message,
            )
            self._log(_level(user.outcome, user.errors), user.name, line, notify=False)
        self.state.result = result
        self.state.running = False
        self.state.elapsed = time.monotonic() - self.state.started
        totals = result.totals
        self._log(
            Level.ERROR if result.outcome == "errors" else Level.INFO,
            "",
            f"run {result.run_id} finished: {result.outcome}; created {totals['created']},"
            f" updated {totals['updated']}, deleted {totals['deleted']},"
            f" skipped {totals['skipped']}, errors {totals['errors']}",
            notify=False,
        )

    def _failed(self, message: str) -> None:
        self.state.running = False
        self.state.elapsed = time.monotonic() - self.state.started
        self._log(Level.ERROR, "", f"sync not run: {message}")
        self.app.notify(f"Sync not run: {message}", severity="error", timeout=10)
        self._changed()

    def _log(self, level: Level, user: str, text: str, notify: bool = True) -> None:
        self.state.log.append(LogEntry(utc_now(), level, user, text))
        if notify:
            self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def _level(outcome: str, errors: int) -> Level:
    if outcome == "error" or errors:
        return Level.ERROR
    if outcome in ("held", "deferred", "cancelled"):
        return Level.WARNING
    return Level.INFO


def _outcome_line(
    outcome: str, created: int, updated: int, deleted: int, errors: int, message: str
) -> str:
    counts = f"created {created}, updated {updated}, deleted {deleted}, errors {errors}"
    return f"{outcome}: {counts}" + (f"; {message}" if message else "")

"""Runs a sync for many users: pull, reconcile, apply, commit, with progress events.

Each user runs in its own worker (bounded by ``exchange.sync.workers``); one user's failure
never stops another's. Every pulled page and every applied write is committed with what
depends on it, so a kill at any instant resumes cleanly: items created before a crash come
back in the next pull carrying their stamp and are adopted, not copied. A dry run pulls
into memory, plans, and writes nothing anywhere.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from queue import Empty, SimpleQueue
from time import monotonic

from engine.exchange.capabilities import exchange_scope
from engine.exchange.mailbox.base import (
    AccessDeniedError,
    CalendarContent,
    ChangePage,
    DeltaCheck,
    FolderKind,
    ForeignSyncStateError,
    ItemChange,
    ItemRef,
    Mailbox,
    MailboxConnector,
    MailboxError,
    MailboxItem,
    MailboxNotFoundError,
    NewItem,
    StampChange,
    SyncStateExpiredError,
    ThrottledError,
    TimeChange,
    TruncatedViewError,
    WriteError,
    WriteResult,
    content_digest,
    stamp_value,
    visible_time,
)
from engine.exchange.projection import Projection, project, rekey_origin
from engine.exchange.reconcile import (
    WRITES_MAILBOX,
    Action,
    Link,
    Plan,
    Policy,
    PsaSide,
    Verb,
    full_hash,
    import_hash,
    imported_records,
    reconcile,
)
from engine.exchange.rules import Origin
from engine.exchange.triggers import written_side
from engine.installation import Ownership, sort_out
from engine.psa.model import (
    Appointment,
    ChangeSummary,
    RecordKind,
    Resource,
    parse_record_key,
    record_key,
)
from engine.psa.source import PsaSource, RecordGoneError
from engine.settings.model import (
    ImportMode,
    Settings,
    TodoFolder,
    shared_mailboxes,
    shared_message,
)
from engine.state import EventDraft, StateStore, UserRun, UserState
from engine.storage import StorageFullError

log = logging.getLogger(__name__)

PAGE_SIZE = 200
_ERROR_KINDS: dict[type[MailboxError], str] = {
    AccessDeniedError: "access_denied",
    MailboxNotFoundError: "mailbox_not_found",
}
WRITE_CHUNK = 50
NARROWEST_VIEW = timedelta(hours=1)
"""A calendar view cut by the server is read again in halves, down to this span."""


class TimeLimitError(MailboxError):
    """One user's part of a run went past ``exchange.sync.user_time_limit_seconds``."""


def _error_kind(error: MailboxError) -> str:
    """The kind a notification is sent once a day for (Graph's refusals are subclasses)."""
    return next(
        (kind for cause, kind in _ERROR_KINDS.items() if isinstance(error, cause)), "mailbox"
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Progress:
    """One step of a run, for the console's progress bars and the log."""

    user_id: int
    user: str
    phase: str
    done: int = 0
    total: int = 0
    message: str = ""


@dataclass
class UserResult:
    user_id: int
    name: str
    mailbox: str
    outcome: str = "ok"
    """ok, error, held (mass-deletion guard), deferred (throttled), cancelled, planned."""
    message: str = ""
    mailbox_counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0}
    )
    psa_counts: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "deleted": 0}
    )
    skipped: int = 0
    foreign: int = 0
    """Items stamped by another msext installation, left alone (counted in ``skipped``)."""
    errors: int = 0
    pending: int = 0
    error_kind: str = ""
    """Why the whole user failed (access_denied, mailbox_not_found, mailbox, internal)."""
    planned: list[dict[str, str | None]] = field(default_factory=list)
    trigger: str = ""
    """Why the user was synced (:mod:`engine.exchange.triggers`)."""
    changed_at: datetime | None = None
    """The earliest change the trigger carried for this user, when it carried one."""
    first_write: dict[str, datetime] = field(default_factory=dict)
    """Side ("mailbox", "psa") -> when this run first wrote there (the wall clock)."""

    def count(self, side: str, what: str, amount: int = 1) -> None:
        (self.mailbox_counts if side == "mailbox" else self.psa_counts)[what] += amount
        self.first_write.setdefault(side, datetime.now(UTC))

    @property
    def latency_s(self) -> float | None:
        """Seconds from the change to this run's first write on the side it was for
        (mailbox for a PSA change, PSA for a mailbox change); ``None`` when nothing was
        written there or no change time is known."""
        side = written_side(self.trigger)
        written = self.first_write.get(side) if side else None
        if written is None or self.changed_at is None:
            return None
        return round((written - self.changed_at).total_seconds(), 3)

    @property
    def totals(self) -> dict[str, int]:
        return {
            what: self.mailbox_counts[what] + self.psa_counts[what]
            for what in ("created", "updated", "deleted")
        }

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "user_id": self.user_id,
            "name": self.name,
            "mailbox": self.mailbox,
            "outcome": self.outcome,
            "message": self.message,
            **self.totals,
            "skipped": self.skipped,
            "foreign": self.foreign,
            "errors": self.errors,
            "pending": self.pending,
            "mailbox_changes": dict(self.mailbox_counts),
            "psa_changes": dict(self.psa_counts),
            "trigger": self.trigger,
            "latency_s": self.latency_s,
        }
        if self.planned:
            data["plan"] = self.planned
        return data


@dataclass
class RunResult:
    run_id: int | None
    dry_run: bool
    users: list[UserResult]

    @property
    def totals(self) -> dict[str, int]:
        totals = {"created": 0, "updated": 0, "deleted": 0, "skipped": 0, "errors": 0}
        for user in self.users:
            for what, amount in user.totals.items():
                totals[what] += amount
            totals["skipped"] += user.skipped
            totals["errors"] += user.errors
        return totals

    @property
    def imported(self) -> int:
        return sum(user.psa_counts["created"] for user in self.users)

    @property
    def outcome(self) -> str:
        if any(user.outcome == "error" or user.errors for user in self.users):
            return "errors"
        if any(user.outcome in ("held", "deferred", "cancelled") for user in self.users):
            return "incomplete"
        return "ok"

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            **self.totals,
            "imported": self.imported,
            "users": [user.as_dict() for user in self.users],
        }


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


class Runner:
    """Syncs the enabled users of one profile."""

    def __init__(
        self,
        settings: Settings,
        psa: PsaSource,
        state: StateStore,
        connector: MailboxConnector,
        installation: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``installation`` is the id this installation stamps its items with
        (``engine.installation``)."""
        self.settings = settings
        self.psa = psa
        self.state = state
        self.connector = connector
        self.installation = installation
        self.clock = clock
        self._changes_cache: dict[str, ChangeSummary] = {}
        self._changes_lock = threading.Lock()

    # -- who -------------------------------------------------------------------------------

    def enabled_users(self, resources: Sequence[Resource]) -> list[Resource]:
        """Active resources enabled on the Resources tab, when the extension is enabled."""
        if not self.settings.exchange.general.enabled:
            return []
        return [
            resource
            for resource in resources
            if resource.active and self.settings.resource(resource.id).enabled
        ]

    def mailbox_address(self, resource: Resource) -> str:
        return self.settings.mailbox_address(resource.id, resource.email)

    def shared_mailboxes(self) -> dict[int, str]:
        """Resource id -> why it is not synced: its mailbox is another enabled resource's
        too (the settings check cannot see every PSA e-mail; the run refuses both)."""
        people = {
            resource.id: (resource.name, resource.email)
            for resource in self.enabled_users(self.psa.resources())
        }
        overrides = {
            resource_id: self.settings.resource(resource_id).mailbox for resource_id in people
        }
        refused: dict[int, str] = {}
        for address, first, second in shared_mailboxes(overrides, people):
            message = shared_message(address, first, second, people)
            refused.setdefault(first, message)
            refused.setdefault(second, message)
        return refused

    # -- a run -----------------------------------------------------------------------------

    def run(
        self,
        users: Sequence[Resource],
        dry_run: bool = False,
        trigger: str = "cli",
        cancel: threading.Event | None = None,
        allow_mass_delete: frozenset[int] = frozenset(),
        changed_at: Mapping[int, datetime] | None = None,
    ) -> Iterator[Progress | RunFinished]:
        """Sync ``users``; yields progress, and a :class:`RunFinished` last. ``trigger``
        says why (:mod:`engine.exchange.triggers`), ``changed_at`` per user the earliest
        change it carries (each user's latency is measured from it)."""
        cancel = cancel or threading.Event()
        run_id = None if dry_run else self.state.start_run(trigger, dry_run)
        cursor = self.psa.cursor()
        refused = self.shared_mailboxes()
        self.connector.prefetch(self.delta_checks(users, refused))
        events: SimpleQueue[Progress | UserResult] = SimpleQueue()
        results: list[UserResult] = []
        workers = max(1, min(self.settings.exchange.sync.workers, len(users) or 1))
        jobs: list[_UserSync] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="msext-sync") as pool:
            for resource in users:
                job = _UserSync(
                    self,
                    resource,
                    run_id,
                    cursor,
                    dry_run,
                    cancel,
                    events.put,
                    allow_mass_delete=resource.id in allow_mass_delete,
                    refusal=refused.get(resource.id),
                )
                job.result.trigger = trigger
                job.result.changed_at = (changed_at or {}).get(resource.id)
                jobs.append(job)
                pool.submit(job.run_guarded)
            while len(results) < len(users):
                try:
                    event = events.get(timeout=0.1)
                except Empty:
                    continue
                if isinstance(event, UserResult):
                    results.append(event)
                    yield Progress(
                        event.user_id, event.name, "done", len(results), len(users), event.outcome
                    )
                else:
                    yield event
        full = next((job.storage_full for job in jobs if job.storage_full), None)
        if full is not None:
            raise full
        results.sort(key=lambda result: result.name.lower())
        result = RunResult(run_id, dry_run, results)
        if run_id is not None:
            totals = dict(result.totals, imported=result.imported)
            self.state.finish_run(run_id, result.outcome, totals, len(results))
        yield RunFinished(result)

    def run_to_end(self, users: Sequence[Resource], **options: object) -> RunResult:
        for event in self.run(users, **options):  # type: ignore[arg-type]
            if isinstance(event, RunFinished):
                return event.result
        raise AssertionError("a run always finishes")

    def psa_changes(self, cursor: str | None) -> ChangeSummary | None:
        """What changed in the PSA since a user's cursor; one query per distinct cursor."""
        if cursor is None:
            return None
        with self._changes_lock:
            if cursor not in self._changes_cache:
                self._changes_cache[cursor] = self.psa.changes_since(cursor)
            return self._changes_cache[cursor]

    def policy(self, resource: Resource, allow_mass_delete: bool) -> tuple[Policy, frozenset]:
        sync = self.settings.exchange.sync
        scope = exchange_scope(self.settings, resource.id)
        today = self.clock().date()
        return (
            Policy(
                import_mode=scope.import_mode,
                window_start=_midnight(today - timedelta(days=sync.days_back)),
                window_end=_midnight(today + timedelta(days=sync.days_ahead + 1)),
                max_delete_percent=sync.max_delete_percent,
                allow_mass_delete=allow_mass_delete,
            ),
            scope.kinds,
        )

    def policy_hash(self, resource: Resource) -> str:
        """A fingerprint of the settings that shape this user's scope: if it changes, the
        user is reconciled in full."""
        scope = exchange_scope(self.settings, resource.id)
        sync = self.settings.exchange.sync
        parts = (
            sorted(scope.kinds),
            scope.contact_scope,
            scope.import_mode,
            sync.todo_folder,
            sync.days_back,
            sync.days_ahead,
            self.settings.psa.web_url,
        )
        return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()

    def psa_side(
        self,
        resource: Resource,
        policy: Policy,
        kinds: frozenset,
        mirror: Mapping[str, MailboxItem],
        links: Mapping[str, Link],
    ) -> PsaSide:
        """The projections of the user's records in scope, and their imported appointments
        (told apart with the links and mirror, see :func:`imported_records`); a linked
        record that left the window is followed by its key."""
        sync = self.settings.exchange.sync
        web_url = self.settings.psa.web_url
        projections: dict[str, Projection] = {}
        records = self.psa.calendar_records(resource.id, policy.window_start, policy.window_end)
        seen = {record.key for record in records}
        lost = [link.key for link in followed_links(links, policy) if link.key not in seen]
        records += self.psa.followed_records(resource.id, lost) if lost else []
        appointments = [record for record in records if isinstance(record, Appointment)]
        imported = imported_records(appointments, mirror, links)
        taken = {record.key for record in imported.values()}
        for record in records:
            if record.key not in taken and parse_record_key(record.key)[0] in kinds:
                projections[record.key] = project(record, web_url, sync.todo_folder)
        if RecordKind.CONTACT in kinds:
            for contact in self.psa.contacts(resource.id, sync.contact_scope):
                projections[contact.key] = project(contact, web_url, sync.todo_folder)
        return PsaSide(projections, imported, frozenset(kinds))

    def folders(self, kinds: frozenset, policy: Policy) -> list[FolderKind]:
        folders = []
        calendar_kinds = {RecordKind.APPOINTMENT, RecordKind.SERVICE_CALL}
        todo_in_calendar = self.settings.exchange.sync.todo_folder is TodoFolder.CALENDAR
        if (
            kinds & calendar_kinds
            or policy.import_mode is not ImportMode.OFF
            or (RecordKind.TODO in kinds and todo_in_calendar)
        ):
            folders.append(FolderKind.CALENDAR)
        if RecordKind.CONTACT in kinds:
            folders.append(FolderKind.CONTACTS)
        if RecordKind.TODO in kinds and not todo_in_calendar:
            folders.append(FolderKind.TASKS)
        return folders

    def delta_checks(
        self, users: Sequence[Resource], refused: Mapping[int, str]
    ) -> list[DeltaCheck]:
        """The first pull of every synced folder that has a sync state, for the connector to
        ask ahead together (Graph batches them across mailboxes)."""
        checks = []
        for resource in users:
            if resource.id in refused:
                continue
            policy, kinds = self.policy(resource, allow_mass_delete=False)
            window = (policy.window_start, policy.window_end)
            address = self.mailbox_address(resource)
            for folder in self.folders(kinds, policy):
                state = self.state.sync_state(resource.id, folder)
                if state is not None:
                    checks.append(DeltaCheck(address, folder, state, PAGE_SIZE, window))
        return checks


def followed_links(links: Mapping[str, Link], policy: Policy) -> list[Link]:
    """Links whose record and item were inside the window when last written: both sides
    are followed wherever they went since (R16, R17)."""
    return [
        link
        for link in links.values()
        if not link.detached and link.start is not None and policy.in_window(link.start, link.end)
    ]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)


class _UserSync:
    """One user's part of a run."""

    def __init__(
        self,
        runner: Runner,
        resource: Resource,
        run_id: int | None,
        cursor: str,
        dry_run: bool,
        cancel: threading.Event,
        emit: Callable[[Progress | UserResult], None],
        allow_mass_delete: bool,
        refusal: str | None = None,
    ) -> None:
        self.runner = runner
        self.state = runner.state
        self.resource = resource
        self.uid = resource.id
        self.run_id = run_id
        self.cursor = cursor
        self.dry_run = dry_run
        self.cancel = cancel
        self.emit = emit
        self.allow_mass_delete = allow_mass_delete
        self.refusal = refusal
        """Why this user may not be synced at all (a mailbox shared with another user)."""
        self.mailbox_known = False
        """Whether the state now describes the configured mailbox (recorded at the end)."""
        self.result = UserResult(resource.id, resource.name, runner.mailbox_address(resource))
        self.overlay: dict[str, MailboxItem] | None = None
        self.events: list[EventDraft] = []
        self.resynced = False
        """Whether a pull in this run had to start a folder afresh."""
        self.deadline = float("inf")
        """When this user's time is up (monotonic); set when the user's turn comes."""
        self.storage_full: StorageFullError | None = None
        """The state could not be written (a full disk): the whole run fails with it."""
        self.foreign_reported = False

    def progress(self, phase: str, done: int = 0, total: int = 0, message: str = "") -> None:
        self.emit(Progress(self.uid, self.resource.name, phase, done, total, message))

    def run_guarded(self) -> None:
        started = self.runner.clock()
        self.deadline = monotonic() + self.runner.settings.exchange.sync.user_time_limit_seconds
        try:
            self.run()
        except StorageFullError as error:
            self.storage_full = error
            self.fail(str(error), "error", "storage")
        except (ThrottledError, TimeLimitError) as error:
            self.fail(str(error), "deferred")
        except MailboxError as error:
            self.fail(str(error), "error", _error_kind(error))
        except Exception as error:
            log.exception("sync of user %s failed", self.uid)
            self.fail(f"internal error: {error}", "error", "internal")
        finally:
            try:
                self.finish(started)
            except StorageFullError as error:
                self.storage_full = self.storage_full or error
            # Always, or the run would wait for this user for ever.
            self.emit(self.result)

    def out_of_time(self) -> bool:
        return monotonic() >= self.deadline

    def check_time(self) -> None:
        """Stop this user once its time is up: what was done stays committed, and the next
        run goes on from there."""
        if self.out_of_time():
            limit = self.runner.settings.exchange.sync.user_time_limit_seconds
            raise TimeLimitError(
                f"stopped at the per-user time limit of {limit} s"
                " (exchange.sync.user_time_limit_seconds); what was done is kept and the rest"
                " follows at the next run"
            )

    def fail(self, message: str, outcome: str, kind: str = "") -> None:
        self.result.outcome = outcome
        self.result.message = message
        self.result.error_kind = kind
        if outcome == "error":
            self.result.errors += 1
        self.events.append(EventDraft(self.run_id, "run", "failed", "-", message, error=message))

    def finish(self, started: datetime) -> None:
        finished = self.runner.clock()
        if not self.dry_run:
            self.state.add_events(self.uid, self.events)
            ok = self.result.outcome in ("ok", "held")
            self.state.update_user(
                self.uid,
                **({"mailbox": self.result.mailbox} if self.mailbox_known else {}),
                last_run_id=self.run_id,
                last_outcome=self.result.outcome,
                last_error=None if ok else self.result.message,
                last_attempt_at=finished,
                **({"last_success_at": finished} if ok else {}),
            )
            if self.run_id is not None:
                self.state.record_user_run(
                    UserRun(
                        run_id=self.run_id,
                        user_id=self.uid,
                        outcome=self.result.outcome,
                        **self.result.totals,
                        imported=self.result.psa_counts["created"],
                        skipped=self.result.skipped,
                        errors=self.result.errors,
                        pending=self.result.pending,
                        message=self.result.message,
                        started_at=started,
                        finished_at=finished,
                        trigger=self.result.trigger,
                        changed_at=self.result.changed_at,
                        latency_s=self.result.latency_s,
                    )
                )

    # -- the steps -------------------------------------------------------------------------

    def run(self) -> None:
        if self.cancel.is_set():
            self.result.outcome = "cancelled"
            return
        if self.refusal:
            raise MailboxError(self.refusal)
        runner = self.runner
        policy, kinds = runner.policy(self.resource, self.allow_mass_delete)
        self.policy = policy
        user_state = self.state.user(self.uid)
        self.progress("connect", message=self.result.mailbox)
        mailbox = runner.connector.open(self.result.mailbox)
        previous = user_state.mailbox if user_state else ""
        if previous and previous.lower() != self.result.mailbox.lower():
            if self.dry_run:
                self.result.message = f"the mailbox moves from {previous}: not cleaned in a dry run"
            else:
                self.move_mailbox(mailbox, previous)
                user_state = self.state.user(self.uid)
        self.mailbox_known = not self.dry_run
        if self.dry_run:
            self.overlay = self.state.mirror(self.uid)
        folders = runner.folders(kinds, policy)
        pulled = sum(self.pull(mailbox, folder) for folder in folders)
        today = runner.clock().date().isoformat()
        policy_hash = runner.policy_hash(self.resource)
        if pulled or user_state is None or user_state.reconciled_day != today:
            self.expand_series(mailbox, policy)
        changes = runner.psa_changes(user_state.psa_cursor if user_state else None)
        # A held user is planned on every run: its deletions stay held (and counted as
        # pending) until released, or until what they would delete is back.
        if not (
            pulled
            or user_state is None
            or user_state.reconciled_day != today
            or user_state.policy_hash != policy_hash
            or user_state.guard_detail
            or self.allow_mass_delete
            or changes is None
            or self.psa_touched(changes, kinds)
        ):
            self.progress("idle", message="no changes")
            return
        plan = self.plan_and_apply(mailbox, kinds, user_state, folders)
        if plan is not None and plan.count(Verb.UNSTAMP):
            # The copies a person made their own show unstamped now: import them in this run,
            # since the next one would find nothing new and stay idle.
            self.plan_and_apply(mailbox, kinds, self.state.user(self.uid), folders)
        if self.dry_run:
            return
        if self.cancel.is_set():
            self.result.outcome = "cancelled"
            return
        self.state.update_user(
            self.uid,
            psa_cursor=self.cursor,
            reconciled_day=today,
            policy_hash=policy_hash,
            **({"allow_mass_delete": 0} if self.allow_mass_delete else {}),
        )

    def move_mailbox(self, mailbox: Mailbox, previous: str) -> None:
        """The user's mailbox address changed: once the new mailbox answers, the engine's
        items leave the old one (to Deleted Items) and the state starts afresh for the new
        one. Appointments imported from the old mailbox stay in the PSA; an item the new
        mailbox shares with the old (an alias) is linked to its import again."""
        mailbox.check_access()
        stamped = [
            ItemRef(item.item_id, item.folder)
            for item in self.state.mirror(self.uid).values()
            if item.stamp and not item.master_id
        ]
        reason = f"the mailbox moved to {self.result.mailbox}: out of the old one"
        events = []
        try:
            old = self.runner.connector.open(previous)
            for start in range(0, len(stamped), WRITE_CHUNK):
                chunk = stamped[start : start + WRITE_CHUNK]
                for ref, result in zip(chunk, old.delete(chunk), strict=True):
                    gone = result.ok or result.error is WriteError.NOT_FOUND
                    outcome = "done" if gone else "failed"
                    if result.ok:
                        self.result.count("mailbox", "deleted")
                    events.append(
                        EventDraft(
                            self.run_id,
                            "delete",
                            outcome,
                            "R04",
                            reason,
                            item_id=ref.item_id,
                            error=result.message or None,
                        )
                    )
        except MailboxError as error:
            events.append(
                EventDraft(self.run_id, "delete", "failed", "R04", reason, error=str(error))
            )
            self.result.errors += 1
        self.state.forget_mailbox(self.uid, events)
        self.state.update_user(self.uid, mailbox=self.result.mailbox, reconciled_day=None)

    def plan_and_apply(
        self,
        mailbox: Mailbox,
        kinds: frozenset,
        user_state: UserState | None,
        folders: list[FolderKind],
    ) -> Plan | None:
        """Reconcile and apply; after mailbox writes, pull again to confirm them. A dry run
        reports the plan and returns ``None``."""
        self.progress("plan")
        links = self.state.links(self.uid)
        mirror = self.follow(mailbox, links)
        ownership = sort_out(
            mirror, {link.item_id for link in links.values()}, self.runner.installation
        )
        self.report_foreign(ownership)
        psa = self.runner.psa_side(self.resource, self.policy, kinds, ownership.own, links)
        plan = reconcile(psa, ownership.own, links, self.policy)
        if self.dry_run:
            self.report_plan(plan)
            return None
        self.hold(plan, user_state)
        self.apply(mailbox, plan)
        restamped = self.restamp_legacy(mailbox, ownership.legacy)
        self.check_time()
        if plan.count(*WRITES_MAILBOX) or restamped:
            self.resynced = False
            for folder in folders:
                self.pull(mailbox, folder)
            if self.resynced:
                # Pulling a folder afresh forgot its series' occurrences; without them the
                # next reconcile would take their appointments out of the PSA (R10).
                self.expand_series(mailbox, self.policy)
        return plan

    def report_foreign(self, ownership: Ownership) -> None:
        """Items another installation stamped are skipped, once a run, with one event."""
        if not ownership.foreign or self.foreign_reported:
            return
        self.foreign_reported = True
        report = ownership.report()
        self.result.skipped += len(ownership.foreign)
        self.result.foreign = len(ownership.foreign)
        self.result.message = self.result.message or report
        self.events.append(EventDraft(self.run_id, "foreign", "skipped", "invariant 2", report))

    def restamp_legacy(self, mailbox: Mailbox, legacy: Sequence[MailboxItem]) -> int:
        """This installation's items stamped before installations were named get its id in
        their stamp (items this run updated got it with the update); how many were written."""
        if self.cancel.is_set() or not legacy:
            return 0
        mirror = self.state.mirror(self.uid)
        links = {link.item_id: link for link in self.state.links(self.uid).values()}
        items = [
            mirror[item.item_id]
            for item in legacy
            if item.item_id in mirror
            and mirror[item.item_id].owner is None
            and item.item_id in links
            and links[item.item_id].key == item.stamp
        ]
        for start in range(0, len(items), WRITE_CHUNK):
            chunk = items[start : start + WRITE_CHUNK]
            changes = [
                StampChange(
                    item.item_id,
                    item.change_key,
                    item.folder,
                    stamp_value(item.stamp or "", self.runner.installation),
                )
                for item in chunk
            ]
            put_items, put_links, events = [], [], []
            for item, result in zip(chunk, mailbox.restamp(changes), strict=True):
                event = EventDraft(
                    self.run_id,
                    "restamp",
                    "done" if result.ok and result.change_key else "failed",
                    "invariant 2",
                    "stamped before installations were named: the stamp names this one now",
                    key=item.stamp,
                    item_id=item.item_id,
                    error=None if result.ok else result.message or str(result.error),
                )
                events.append(event)
                if result.ok and result.change_key:
                    owned = replace(item, owner=self.runner.installation)
                    put_items.append(replace(owned, change_key=result.change_key))
                    put_links.append(replace(links[item.item_id], change_key=result.change_key))
                    self.result.count("mailbox", "updated")
            self.state.record(self.uid, put_links=put_links, put_items=put_items, events=events)
        return len(items)

    def follow(self, mailbox: Mailbox, links: Mapping[str, Link]) -> dict[str, MailboxItem]:
        """Items that left the pulled view (Graph's delta reports an event that left its
        span as removed, EWS's view of a series ends with the window) are looked up by id,
        so that reconcile sees where they went instead of a deletion. Returns the mirror
        with them, which planning reads (read once: it is the largest read of a run)."""
        mirror = self.overlay if self.overlay is not None else self.state.mirror(self.uid)
        lost: dict[FolderKind, list[str]] = {}
        for link in followed_links(links, self.policy):
            if link.item_id not in mirror:
                lost.setdefault(link.folder, []).append(link.item_id)
        masters = [item.item_id for item in mirror.values() if item.is_master]
        for folder, item_ids in lost.items():
            found = self.bodies(mailbox, mailbox.follow(folder, item_ids, masters))
            mirror.update({item.item_id: item for item in found})
            if self.overlay is None and found:
                self.state.record(self.uid, put_items=found)
        return mirror

    def psa_touched(self, changes: ChangeSummary, kinds: frozenset) -> bool:
        if self.uid in changes.resource_ids:
            return True
        contacts = RecordKind.CONTACT in kinds
        return contacts and (changes.contacts_changed or changes.companies_or_opportunities_changed)

    def pull(self, mailbox: Mailbox, folder: FolderKind, afresh: bool = False) -> int:
        """Bring the mirror of one folder up to date; returns the number of changes.

        A dry run reads the stored sync state but keeps what it pulls in memory only.
        """
        state = None if afresh else self.state.sync_state(self.uid, folder)
        changes = 0
        try:
            window = (self.policy.window_start, self.policy.window_end)
            for page in mailbox.pull(folder, state, PAGE_SIZE, window):
                changes += len(page.upserts) + len(page.deleted_ids)
                self.store_page(folder, self.with_bodies(mailbox, page))
                self.progress("pull", changes, 0, f"{folder}: {changes} changes")
                self.check_time()
        except SyncStateExpiredError as expired:
            if afresh:
                raise
            if isinstance(expired, ForeignSyncStateError) and self.overlay is None:
                self.adopt_ids(mailbox)
            self.events.append(
                EventDraft(
                    self.run_id,
                    "resync",
                    "done",
                    "-",
                    f"{expired} ({folder}): pulling the folder afresh",
                )
            )
            self.resynced = True
            if self.overlay is None:
                self.state.reset_folder(self.uid, folder)
            else:
                self.overlay = {k: v for k, v in self.overlay.items() if v.folder is not folder}
            return changes + self.pull(mailbox, folder, afresh=True)
        return changes

    def adopt_ids(self, mailbox: Mailbox) -> None:
        """R19: the profile moved between EWS and Graph. Both name the same items, in two
        spellings: the links and the PSA's imported appointments keep their items under
        the new spelling, so nothing is created, deleted or imported twice."""
        self.state.adopt_ids(self.uid, mailbox.native_id)
        self.runner.psa.rekey_imported(lambda key: rekey_origin(key, mailbox.native_id))

    def with_bodies(self, mailbox: Mailbox, page: ChangePage) -> ChangePage:
        return replace(page, upserts=self.bodies(mailbox, page.upserts))

    def bodies(self, mailbox: Mailbox, items: Sequence[MailboxItem]) -> tuple[MailboxItem, ...]:
        """R06: bodies of a person's appointments, only when they are imported with details."""
        if self.policy.import_mode is not ImportMode.FULL:
            return tuple(items)
        wanted = [
            item.item_id
            for item in items
            if item.stamp is None and item.is_appointment and not item.private
        ]
        bodies = mailbox.bodies(wanted) if wanted else {}
        return tuple(
            replace(item, body=bodies[item.item_id]) if item.item_id in bodies else item
            for item in items
        )

    def store_page(self, folder: FolderKind, page: ChangePage) -> None:
        if self.overlay is None:
            self.state.apply_page(self.uid, folder, page)
            return
        for item_id in page.deleted_ids:
            self.overlay.pop(item_id, None)
            for key in [k for k, v in self.overlay.items() if v.master_id == item_id]:
                del self.overlay[key]
        for item in page.upserts:
            self.overlay[item.item_id] = item

    def expand_series(self, mailbox: Mailbox, policy: Policy) -> None:
        """Occurrences of the user's recurring series inside the window (R10)."""
        if policy.import_mode is ImportMode.OFF:
            return
        mirror = self.overlay if self.overlay is not None else self.state.mirror(self.uid)
        masters = [item.item_id for item in mirror.values() if item.is_master and not item.stamp]
        if not masters:
            return
        occurrences = [
            replace(occurrence, body=mirror[occurrence.master_id or ""].body)
            for occurrence in self.view_occurrences(mailbox, masters, policy)
        ]
        if self.overlay is not None:
            for key in [k for k, v in self.overlay.items() if v.master_id in masters]:
                del self.overlay[key]
            self.overlay.update({item.item_id: item for item in occurrences})
        else:
            self.state.replace_occurrences(self.uid, masters, occurrences)

    def view_occurrences(
        self, mailbox: Mailbox, masters: list[str], policy: Policy
    ) -> list[MailboxItem]:
        """The occurrences over the window, read in spans the server answers whole: a span
        it cuts short (a busy calendar) is read again in halves. A cut view is never used:
        the occurrences it leaves out would look deleted and leave the PSA (R10)."""
        found: dict[str, MailboxItem] = {}
        spans = [(policy.window_start, policy.window_end)]
        while spans:
            self.check_time()
            start, end = spans.pop()
            try:
                occurrences = mailbox.occurrences(masters, start, end)
            except TruncatedViewError as truncated:
                if end - start <= NARROWEST_VIEW:
                    raise MailboxError(
                        f"{truncated}, even over {NARROWEST_VIEW}: the series were not read"
                        " and nothing was changed for this user"
                    ) from None
                middle = start + (end - start) / 2
                spans += [(middle, end), (start, middle)]
                continue
            # An occurrence across the middle of a halved span is in both halves.
            found.update((occurrence.item_id, occurrence) for occurrence in occurrences)
        return list(found.values())

    def report_plan(self, plan: Plan) -> None:
        self.result.outcome = "planned"
        for action in (*plan.actions, *plan.held):
            side, what = _tally(action)
            if what:
                self.result.count(side, what)
            self.result.planned.append(
                {
                    "action": action.verb.value,
                    "key": action.key,
                    "item_id": action.item_id,
                    "rule": action.rule,
                    "reason": action.reason,
                    "held": "yes" if action in plan.held else None,
                }
            )
        self.result.skipped += len(plan.held)
        if plan.guard:
            self.result.message = plan.guard

    def hold(self, plan: Plan, user_state: UserState | None) -> None:
        if not plan.guard:
            if user_state is not None and user_state.guard_detail:
                self.state.update_user(self.uid, guard_detail=None)
            return
        self.result.outcome = "held"
        self.result.message = plan.guard
        self.result.skipped += len(plan.held)
        self.result.pending += len(plan.held)
        if user_state is None or user_state.guard_detail != plan.guard:
            self.events.extend(
                EventDraft(
                    self.run_id,
                    action.verb.value,
                    "held",
                    "invariant 4",
                    plan.guard,
                    key=action.key,
                    item_id=action.item_id,
                )
                for action in plan.held
            )
        self.state.update_user(self.uid, guard_detail=plan.guard)

    # -- applying a plan -------------------------------------------------------------------

    def apply(self, mailbox: Mailbox, plan: Plan) -> None:
        by_verb: dict[Verb, list[Action]] = {}
        for action in plan.actions:
            by_verb.setdefault(action.verb, []).append(action)
        total = plan.writes
        self.done = 0
        self.total = total
        for action in by_verb.get(Verb.CONFLICT, []):
            self.result.skipped += 1
            self.events.append(self.event(action, "conflict"))
        self.bookkeeping(by_verb)
        for action in by_verb.get(Verb.IMPORT, []):
            self.guarded(action, self.import_one)
        for action in by_verb.get(Verb.UNIMPORT, []):
            self.guarded(action, self.unimport_one)
        for action in by_verb.get(Verb.PSA_MOVE, []):
            self.guarded(action, self.psa_move_one)
        self.chunked(by_verb.get(Verb.CREATE, []), lambda chunk: self.create(mailbox, chunk))
        self.chunked(by_verb.get(Verb.UPDATE, []), lambda chunk: self.update(mailbox, chunk))
        self.chunked(by_verb.get(Verb.ITEM_MOVE, []), lambda chunk: self.move(mailbox, chunk))
        self.chunked(by_verb.get(Verb.UNSTAMP, []), lambda chunk: self.unstamp(mailbox, chunk))
        self.chunked(by_verb.get(Verb.DELETE, []), lambda chunk: self.delete(mailbox, chunk))

    def event(self, action: Action, outcome: str, error: str | None = None) -> EventDraft:
        return EventDraft(
            self.run_id,
            action.verb.value,
            outcome,
            action.rule,
            action.reason,
            key=action.key,
            item_id=action.item_id,
            error=error,
        )

    def advance(self, amount: int) -> None:
        self.done += amount
        self.progress("apply", self.done, self.total)

    def chunked(self, actions: list[Action], apply: Callable[[list[Action]], None]) -> None:
        for start in range(0, len(actions), WRITE_CHUNK):
            if self.cancel.is_set() or self.out_of_time():
                self.result.pending += len(actions) - start
                return
            chunk = actions[start : start + WRITE_CHUNK]
            apply(chunk)
            self.advance(len(chunk))

    def guarded(self, action: Action, apply: Callable[[Action], None]) -> None:
        """One PSA write; its failure is this item's error, not the run's."""
        if self.cancel.is_set() or self.out_of_time():
            self.result.pending += 1
            return
        try:
            apply(action)
        except MailboxError:
            raise
        except Exception as error:
            log.exception("PSA write failed for user %s, %s", self.uid, action.key)
            self.result.errors += 1
            self.state.add_events(self.uid, [self.event(action, "failed", str(error))])
        self.advance(1)

    def bookkeeping(self, by_verb: dict[Verb, list[Action]]) -> None:
        """Actions that change only our state: adopt, refresh, forget, detach, reattach."""
        put: list[Link] = []
        if adopted := by_verb.get(Verb.ADOPT, []) + by_verb.get(Verb.REFRESH, []):
            mirror = self.state.mirror(self.uid)
            for action in adopted:
                item = mirror[action.item_id or ""]
                put.append(
                    self.psa_link(action.projection, item.item_id, item.change_key, item.digest)
                )
        drops = [action.key for action in by_verb.get(Verb.FORGET, []) if action.key]
        if by_verb.get(Verb.DETACH) or by_verb.get(Verb.REATTACH):
            links = self.state.links(self.uid)
            for verb, detached in ((Verb.DETACH, True), (Verb.REATTACH, False)):
                for action in by_verb.get(verb, []):
                    put.append(replace(links[action.key or ""], detached=detached))
        events = [
            self.event(action, "done")
            for verb in (Verb.ADOPT, Verb.FORGET, Verb.DETACH, Verb.REATTACH)
            for action in by_verb.get(verb, [])
        ]
        self.state.record(self.uid, put_links=put, drop_links=drops, events=events)

    def psa_link(
        self, projection: Projection | None, item_id: str, change_key: str, digest: str
    ) -> Link:
        assert projection is not None
        content = projection.content
        start = content.start if isinstance(content, CalendarContent) else None
        end = content.end if isinstance(content, CalendarContent) else None
        return Link(
            key=projection.key,
            origin=Origin.PSA,
            item_id=item_id,
            change_key=change_key,
            folder=projection.folder,
            digest=digest,
            psa_hash=full_hash(projection),
            start=start,
            end=end,
        )

    def written_item(self, projection: Projection, result: WriteResult) -> MailboxItem:
        """The mirror row for an item we just wrote, until the next pull confirms it."""
        content = projection.content
        calendar = isinstance(content, CalendarContent)
        return MailboxItem(
            item_id=result.item_id or "",
            change_key=result.change_key or "",
            folder=projection.folder,
            stamp=projection.key,
            owner=self.runner.installation,
            is_appointment=calendar and projection.folder is FolderKind.CALENDAR,
            subject=content.subject if calendar else None,
            location=content.location if calendar else None,
            start=visible_time(projection.folder, content.start) if calendar else None,
            end=visible_time(projection.folder, content.end) if calendar else None,
            all_day=content.all_day if calendar else False,
            digest=result.digest or content_digest(content, projection.folder),
        )

    def create(self, mailbox: Mailbox, actions: list[Action]) -> None:
        items = [
            NewItem(
                action.projection.folder,
                stamp_value(action.projection.key, self.runner.installation),
                action.projection.content,
            )
            for action in actions
            if action.projection is not None
        ]
        results = mailbox.create(items)
        links, mirror_items, events = [], [], []
        for action, result in zip(actions, results, strict=True):
            assert action.projection is not None
            if result.ok and result.item_id and result.change_key:
                written = self.written_item(action.projection, result)
                links.append(
                    self.psa_link(
                        action.projection, written.item_id, written.change_key, written.digest
                    )
                )
                mirror_items.append(written)
                events.append(replace(self.event(action, "done"), item_id=result.item_id))
                self.result.count("mailbox", "created")
            else:
                events.append(self.event(action, "failed", result.message or str(result.error)))
                self.result.errors += 1
        self.state.record(self.uid, put_links=links, put_items=mirror_items, events=events)

    def update(self, mailbox: Mailbox, actions: list[Action]) -> None:
        changes = [
            ItemChange(
                action.item_id or "",
                action.change_key or "",
                action.projection.folder,
                action.projection.content,
                stamp_value(action.projection.key, self.runner.installation),
            )
            for action in actions
            if action.projection is not None
        ]
        results = mailbox.update(changes)
        links, mirror_items, drops, events = [], [], [], []
        for action, result in zip(actions, results, strict=True):
            assert action.projection is not None
            if result.ok and result.change_key:
                written = self.written_item(
                    action.projection, replace(result, item_id=action.item_id)
                )
                links.append(
                    self.psa_link(
                        action.projection, written.item_id, written.change_key, written.digest
                    )
                )
                mirror_items.append(written)
                events.append(self.event(action, "done"))
                self.result.count("mailbox", "updated")
            else:
                events.append(self.event(action, *self.write_failure(result)))
                if result.error is WriteError.NOT_FOUND and action.item_id:
                    drops.append(action.item_id)
        self.state.record(
            self.uid, put_links=links, put_items=mirror_items, drop_items=drops, events=events
        )

    def write_failure(self, result: WriteResult) -> tuple[str, str]:
        """How a failed write is recorded: a conflict or a vanished item is retried by the
        next run's pull, anything else is an error."""
        if result.error in (WriteError.CONFLICT, WriteError.NOT_FOUND):
            self.result.skipped += 1
            return "deferred", f"{result.error}: retried after the next pull"
        self.result.errors += 1
        return "failed", result.message or str(result.error)

    def move(self, mailbox: Mailbox, actions: list[Action]) -> None:
        changes = [
            TimeChange(action.item_id or "", action.change_key or "", *action.time)
            for action in actions
            if action.time is not None
        ]
        results = mailbox.move(changes)
        links = self.state.links(self.uid)
        mirror = self.state.mirror(self.uid)
        put_links, put_items, events = [], [], []
        for action, result in zip(actions, results, strict=True):
            link = links.get(action.key or "")
            item = mirror.get(action.item_id or "")
            if result.ok and result.change_key and link and item and action.time:
                start, end = action.time
                put_links.append(
                    replace(
                        link,
                        change_key=result.change_key,
                        start=start,
                        end=end,
                        psa_hash=import_hash(action.imported),
                    )
                )
                put_items.append(replace(item, change_key=result.change_key, start=start, end=end))
                events.append(self.event(action, "done"))
                self.result.count("mailbox", "updated")
            else:
                events.append(self.event(action, *self.write_failure(result)))
        self.state.record(self.uid, put_links=put_links, put_items=put_items, events=events)

    def unstamp(self, mailbox: Mailbox, actions: list[Action]) -> None:
        """Invariant 2: a copy a person made their own loses its stamp, and is theirs."""
        mirror = self.state.mirror(self.uid)
        removals = [
            StampChange(
                action.item_id or "", action.change_key or "", mirror[action.item_id or ""].folder
            )
            for action in actions
        ]
        results = mailbox.restamp(removals)
        put_items, events = [], []
        for action, result in zip(actions, results, strict=True):
            if result.ok and result.change_key:
                item = mirror[action.item_id or ""]
                put_items.append(
                    replace(item, stamp=None, owner=None, change_key=result.change_key)
                )
                events.append(self.event(action, "done"))
                self.result.count("mailbox", "updated")
            else:
                events.append(self.event(action, *self.write_failure(result)))
        self.state.record(self.uid, put_items=put_items, events=events)

    def delete(self, mailbox: Mailbox, actions: list[Action]) -> None:
        mirror = self.state.mirror(self.uid)
        item_ids = [action.item_id or "" for action in actions]
        results = mailbox.delete([ItemRef(item_id, mirror[item_id].folder) for item_id in item_ids])
        links = self.state.links(self.uid)
        drop_links, drop_items, events = [], [], []
        for action, result in zip(actions, results, strict=True):
            if result.ok or result.error is WriteError.NOT_FOUND:
                link = links.get(action.key or "")
                if link is not None and link.item_id == action.item_id:
                    drop_links.append(link.key)
                drop_items.append(action.item_id or "")
                events.append(self.event(action, "done"))
                if result.ok:
                    self.result.count("mailbox", "deleted")
            else:
                events.append(self.event(action, *self.write_failure(result)))
        self.state.record(self.uid, drop_links=drop_links, drop_items=drop_items, events=events)

    def import_one(self, action: Action) -> None:
        """R04-R06, R10: a person's appointment into the PSA (upsert by origin key)."""
        imported = action.imported
        assert imported is not None and action.item_id is not None
        known = parse_record_key(action.key)[1] if action.key else None
        record_id = self.runner.psa.save_imported(self.uid, imported, known)
        key = record_key(RecordKind.APPOINTMENT, record_id)
        item = self.state.mirror_item(self.uid, action.item_id)
        link = Link(
            key=key,
            origin=Origin.MAILBOX,
            item_id=item.item_id,
            change_key=item.change_key,
            folder=FolderKind.CALENDAR,
            digest=item.digest,
            psa_hash=import_hash(imported),
            start=imported.start,
            end=imported.end,
        )
        self.state.record(
            self.uid, put_links=[link], events=[replace(self.event(action, "done"), key=key)]
        )
        self.result.count("psa", "updated" if action.key else "created")

    def unimport_one(self, action: Action) -> None:
        _, record_id = parse_record_key(action.key or "")
        self.runner.psa.delete_imported(record_id)
        self.state.record(
            self.uid, drop_links=[action.key or ""], events=[self.event(action, "done")]
        )
        self.result.count("psa", "deleted")

    def psa_move_one(self, action: Action) -> None:
        """R16: a date/time change made in the mailbox, written to the PSA record."""
        assert action.time is not None and action.projection is not None
        try:
            self.runner.psa.move(action.key or "", *action.time)
        except RecordGoneError as gone:
            self.result.skipped += 1
            self.state.add_events(self.uid, [self.event(action, "skipped", str(gone))])
            return
        item = self.state.mirror_item(self.uid, action.item_id or "")
        link = self.psa_link(action.projection, item.item_id, item.change_key, item.digest)
        self.state.record(self.uid, put_links=[link], events=[self.event(action, "done")])
        self.result.count("psa", "updated")


def _tally(action: Action) -> tuple[str, str | None]:
    """Which counter a planned action moves: (side, created/updated/deleted)."""
    match action.verb:
        case Verb.CREATE:
            return "mailbox", "created"
        case Verb.UPDATE | Verb.ITEM_MOVE | Verb.UNSTAMP:
            return "mailbox", "updated"
        case Verb.DELETE:
            return "mailbox", "deleted"
        case Verb.IMPORT:
            return "psa", "updated" if action.key else "created"
        case Verb.PSA_MOVE:
            return "psa", "updated"
        case Verb.UNIMPORT:
            return "psa", "deleted"
    return "mailbox", None

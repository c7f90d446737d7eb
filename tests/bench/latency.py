"""Benchmark: how soon a change reaches the other side, and what msext costs when nothing
changes, event-driven against plain interval polling, in one run.

    python tests/bench/latency.py [--users 200] [--changes 20] [--spread 180] [--idle 180]

Prints one JSON object. Over EWS (the emulator in its own process, as in sync_scale.py),
on a freshly seeded embedded PSA:

- **interval polling** (every 10 minutes, the PSA poll and mailbox notifications off): the
  requests of one idle full run, times six an hour; the latency of a change is the wait for
  the next run (a change falls at a uniformly random moment of the interval, drawn with a
  fixed seed) plus the time the run took to write that user's change, measured in one full
  run after ``--changes`` PSA changes and as many mailbox changes.
- **event-driven** (full runs every 30 minutes, the default; the PSA polled every 60 s;
  EWS streaming notifications): the daemon's own services run in this process. Idle:
  ``--idle`` seconds with nothing changing, counted and scaled to an hour, plus two idle
  full runs. Latency: ``--changes`` PSA changes and as many mailbox changes (a person's new
  meeting, made through EWS as Outlook would) at random moments over ``--spread`` seconds,
  each measured from the moment it was made to the engine's write on the other side (the
  write's event in the state database, whole seconds).

Every change is made to a different user. "Requests" are EWS requests counted by the
emulator and queries of the embedded PSA.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.sync_scale import Emulator, impersonating, mailbox, seed, use_api

POLLING_INTERVAL_S = 600
"""Plain polling at R01's minimum: the cheapest latency polling alone can buy."""
EVENT_FULL_RUN_INTERVAL_S = 30 * 60
"""The default interval, which still governs the full runs of the event-driven mode."""
SETTLE_S = 10
"""After the daemon's first run, what its other services do once at their start passes."""
TARGETS = {"median_latency_s_max": 60.0}
PSA_WRITES = frozenset({"import", "psa_move", "unimport"})
MAILBOX_WRITES = frozenset({"create", "update", "delete", "item_move"})


def percentiles(values: list[float]) -> dict[str, float | int]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "count": len(ordered),
        "median_s": round(statistics.median(ordered), 1),
        "p95_s": round(p95, 1),
    }


class Counters:
    """Exchange requests (the emulator's count) and the queries of every embedded PSA
    connection of this process, read together."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def read(self) -> tuple[int, int]:
        from engine.psa.embedded import EmbeddedPsa

        return self.emulator.requests(), EmbeddedPsa.queries_in_process()

    def since(self, before: tuple[int, int]) -> dict[str, int]:
        exchange, psa = self.read()
        return {"exchange": exchange - before[0], "psa": psa - before[1]}


class Changes:
    """PSA changes (an appointment's subject) and mailbox changes (a person's new meeting,
    made through EWS as the person's Outlook would) to distinct users."""

    def __init__(self, profile) -> None:
        self.profile = profile
        self._config = None
        self.made = 0

    def psa_change(self, user) -> datetime:
        from engine.psa.model import Appointment, RecordKind

        now = datetime.now(UTC)
        records = self.profile.psa.calendar_records(user.id, now, now + timedelta(days=14))
        appointment = next(
            r for r in records if isinstance(r, Appointment) and r.origin_key is None
        )
        self.made += 1
        changed = datetime.now(UTC)
        self.profile.psa.update(
            RecordKind.APPOINTMENT, appointment.id, title=f"{appointment.title} ({self.made})"
        )
        return changed

    def mailbox_change(self, user) -> datetime:
        from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone

        account = self._account(user)
        self.made += 1
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        utc = EWSTimeZone("UTC")
        item = CalendarItem(
            account=account,
            folder=account.calendar,
            subject=f"Bench meeting {self.made}",
            start=EWSDateTime.from_datetime(start).astimezone(utc),
            end=EWSDateTime.from_datetime(start + timedelta(hours=1)).astimezone(utc),
        )
        changed = datetime.now(UTC)
        item.save()
        return changed

    def _account(self, user):
        if self._config is None:
            self._config = impersonating(self.profile)
        return mailbox(self.profile, self._config, user)


def first_writes(profile, user_ids: set[int], verbs: frozenset[str], since: datetime):
    """Each user's first write of these verbs at or after ``since`` (whole seconds)."""
    floor = since.replace(microsecond=0)
    found: dict[int, datetime] = {}
    for user_id in user_ids:
        times = [
            event.at
            for event in profile.state.events(user_id=user_id, limit=500)
            if event.verb in verbs and event.outcome == "done" and event.at >= floor
        ]
        if times:
            found[user_id] = min(times)
    return found


def full_run(profile, users, trigger: str) -> datetime:
    from engine.exchange.runner import RunFinished
    from engine.exchange.sync import sync

    started = datetime.now(UTC)
    for event in sync(profile, users, trigger=trigger):
        if isinstance(event, RunFinished):
            return started
    raise RuntimeError("the run did not finish")


class Daemon:
    """``engine.daemon.serve`` in a thread of this process, from its first full run's end
    (and, with mailbox notifications, every mailbox watched) until the block ends."""

    def __init__(self, paths, users: int) -> None:
        from engine.profile import Profile

        self.profile = Profile(paths)
        self.users = users
        self.stop = threading.Event()

    def __enter__(self) -> Daemon:
        from engine import daemon

        last = self.profile.state.runs(limit=1)
        last_id = last[0].id if last else 0
        self.thread = threading.Thread(
            target=daemon.serve, args=(self.profile, self.stop), name="bench-daemon"
        )
        self.thread.start()
        watching = self.profile.settings.exchange.sync.mailbox_notifications
        wait_for(
            lambda: (
                any(run.id > last_id and run.finished_at for run in self.runs())
                and (not watching or self.watched() >= self.users)
            ),
            what="the daemon's first full run and its mailbox subscriptions",
        )
        time.sleep(SETTLE_S)
        return self

    def runs(self):
        return self.profile.state.runs(limit=5)

    def watched(self) -> int:
        report = self.profile.state.watch_report()
        return report.watched if report and report.mode == "notifications" else 0

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=120)
        self.profile.close()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(1)


def idle_cost(
    counters: Counters, seconds: float, full_run_cost: dict, interval_s: int, renewals: float
) -> dict:
    """Requests an hour with nothing changing: what the running daemon asks in ``seconds``
    (the PSA poll, the mailbox watch, the other modules' services), scaled to an hour, plus
    the hour's full runs at the interval, each costing what an idle full run measured,
    plus ``renewals`` an hour of the mailbox watch's streams (one request each, renewed
    less often than the window is long)."""
    before = counters.read()
    time.sleep(seconds)
    window = counters.since(before)
    runs_per_hour = 3600 / interval_s
    per_hour = {
        side: window[side] * 3600 / seconds + full_run_cost[side] * runs_per_hour
        for side in ("exchange", "psa")
    }
    per_hour["exchange"] += renewals
    return {
        "window_s": seconds,
        "window": window,
        "full_runs_per_hour": runs_per_hour,
        "stream_renewals_per_hour": round(renewals, 1),
        "per_hour": {side: round(value) for side, value in per_hour.items()},
    }


def stream_renewals_per_hour(users: int, watching: bool) -> float:
    """The EWS watch renews each group's stream before its connection times out."""
    from engine.exchange.mailbox.ews_streaming import GROUP_SIZE, StreamTiming

    if not watching:
        return 0.0
    return math.ceil(users / GROUP_SIZE) * 3600 / StreamTiming().renew_seconds


def polling_latency(profile, users, changes: Changes) -> dict:
    """A change waits for the next run (it falls at a uniformly random moment of the
    interval: drawn with a fixed seed), then for the run to reach its user (measured: one
    full run after the changes)."""
    count = len(users) // 2
    psa_users, mailbox_users = users[:count], users[count:]
    for user in psa_users:
        changes.psa_change(user)
    for user in mailbox_users:
        changes.mailbox_change(user)
    started = full_run(profile, users_of(profile), "bench")
    rng = random.Random(21)

    def latencies(chosen, verbs) -> list[float]:
        writes = first_writes(profile, {user.id for user in chosen}, verbs, started)
        return [
            rng.uniform(0, POLLING_INTERVAL_S) + (writes[user.id] - started).total_seconds()
            for user in chosen
            if user.id in writes
        ]

    return {
        "psa_to_mailbox": percentiles(latencies(psa_users, MAILBOX_WRITES)),
        "mailbox_to_psa": percentiles(latencies(mailbox_users, PSA_WRITES)),
    }


def event_latency(profile, users, changes: Changes, spread: float) -> dict:
    """Changes at random moments while the daemon runs, each timed to its write."""
    count = len(users) // 2
    psa_users, mailbox_users = users[:count], users[count:]
    made = spread_changes(changes, psa_users, mailbox_users, spread)
    psa_made = {user.id: made[user.id] for user in psa_users}
    mailbox_made = {user.id: made[user.id] for user in mailbox_users}

    def reached() -> tuple[dict[int, float], dict[int, float]]:
        return arrivals(profile, psa_made, MAILBOX_WRITES), arrivals(
            profile, mailbox_made, PSA_WRITES
        )

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and sum(map(len, reached())) < len(made):
        time.sleep(2)
    to_mailbox, to_psa = reached()
    return {
        "psa_to_mailbox": percentiles(list(to_mailbox.values()))
        | {"missed": len(psa_made) - len(to_mailbox)},
        "mailbox_to_psa": percentiles(list(to_psa.values()))
        | {"missed": len(mailbox_made) - len(to_psa)},
    }


def spread_changes(
    changes: Changes, psa_users, mailbox_users, spread: float
) -> dict[int, datetime]:
    """Each change at its own random moment within ``spread`` seconds."""
    rng = random.Random(42)
    plan = [(rng.uniform(0, spread), "psa", user) for user in psa_users]
    plan += [(rng.uniform(0, spread), "mailbox", user) for user in mailbox_users]
    plan.sort(key=lambda entry: entry[0])
    began = time.monotonic()
    made: dict[int, datetime] = {}
    for offset, side, user in plan:
        time.sleep(max(0.0, began + offset - time.monotonic()))
        make = changes.psa_change if side == "psa" else changes.mailbox_change
        made[user.id] = make(user)
    return made


def arrivals(profile, made: dict[int, datetime], verbs: frozenset[str]) -> dict[int, float]:
    """Seconds from each change to its user's first write after it (whole seconds)."""
    latencies = {}
    for user_id, changed in made.items():
        writes = first_writes(profile, {user_id}, verbs, changed)
        if user_id in writes:
            latencies[user_id] = max(0.0, (writes[user_id] - changed).total_seconds())
    return latencies


def targets(report: dict) -> dict[str, dict[str, object]]:
    event, plain = report["event_driven"], report["interval_polling"]
    checks: dict[str, dict[str, object]] = {}
    for direction in ("psa_to_mailbox", "mailbox_to_psa"):
        value = event[direction].get("median_s")
        checks[f"{direction}_median_s_max"] = {
            "value": value,
            "target": TARGETS["median_latency_s_max"],
            "met": value is not None
            and value <= TARGETS["median_latency_s_max"]
            and not event[direction]["missed"],
        }
    for side in ("exchange", "psa"):
        value = event["idle"]["per_hour"][side]
        limit = plain["idle"]["per_hour"][side]
        checks[f"idle_{side}_requests_per_hour_max"] = {
            "value": value,
            "target": limit,
            "met": value <= limit,
        }
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--items", type=int, default=10, help="PSA records per user")
    parser.add_argument("--changes", type=int, default=20, help="changes each way per mode")
    parser.add_argument("--spread", type=float, default=180.0, help="seconds the changes span")
    parser.add_argument("--idle", type=float, default=180.0, help="seconds of idle counting")
    args = parser.parse_args()
    if args.users < 4 * args.changes:
        parser.error("--users must be at least 4 x --changes (each change has its own user)")

    with tempfile.TemporaryDirectory(prefix="msext-latency-") as scratch:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[name] = str(Path(scratch) / name.lower())
        seed_process(args.users, args.items)
        emulator = Emulator("ews")
        try:
            report = measure(args, emulator)
        finally:
            emulator.stop()
    print(json.dumps(report, indent=2))


def seed_process(users: int, items: int) -> None:
    import multiprocessing

    seeder = multiprocessing.Process(target=seed, args=(users, items))
    seeder.start()
    seeder.join()


def users_of(profile):
    from engine.exchange.sync import select_users

    return select_users(profile, ())


MODES = {
    "interval_polling": {
        "exchange.sync.interval_minutes": str(POLLING_INTERVAL_S // 60),
        "exchange.sync.psa_poll_seconds": "0",
        "exchange.sync.mailbox_notifications": "false",
    },
    "event_driven": {
        "exchange.sync.interval_minutes": str(EVENT_FULL_RUN_INTERVAL_S // 60),
        "exchange.sync.psa_poll_seconds": "60",
        "exchange.sync.mailbox_notifications": "true",
    },
}


def measure(args: argparse.Namespace, emulator: Emulator) -> dict:
    from engine.paths import ProfilePaths
    from engine.profile import Profile

    paths = ProfilePaths.for_profile("bench")
    profile = Profile(paths)
    use_api(profile.store, emulator.urls, "ews")
    profile.reload()
    users = users_of(profile)
    counters = Counters(emulator)
    changes = Changes(profile)
    started = time.perf_counter()
    full_run(profile, users, "bench")
    first_sync_s = round(time.perf_counter() - started, 1)
    before = counters.read()
    started = time.perf_counter()
    full_run(profile, users, "bench")
    idle_run = counters.since(before) | {"wall_s": round(time.perf_counter() - started, 2)}

    report: dict = {
        "api": "ews",
        "users": len(users),
        "items_per_user": args.items,
        "first_sync_s": first_sync_s,
        "idle_full_run": idle_run,
    }
    chosen = iter(range(0, 4 * args.changes, 2 * args.changes))
    for mode, settings in MODES.items():
        for key, value in settings.items():
            profile.store.set_value(key, value)
        profile.reload()
        first = next(chosen)
        changed = users[first : first + 2 * args.changes]
        interval = int(settings["exchange.sync.interval_minutes"]) * 60
        figures: dict = {"settings": settings}
        if mode == "interval_polling":
            figures |= polling_latency(profile, changed, changes)
        with Daemon(paths, len(users)):
            watching = settings["exchange.sync.mailbox_notifications"] == "true"
            renewals = stream_renewals_per_hour(len(users), watching)
            figures["idle"] = idle_cost(counters, args.idle, idle_run, interval, renewals)
            if mode == "event_driven":
                figures |= event_latency(profile, changed, changes, args.spread)
        report[mode] = figures
    profile.close()
    report["targets"] = targets(report)
    return report


if __name__ == "__main__":
    main()

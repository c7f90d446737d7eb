"""The scheduler: full runs at the interval (R01) whatever the stream of named requests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from engine.exchange.triggers import MAILBOX, PSA_CHANGE, SCHEDULE, SyncRequest
from engine.run_lock import SyncBusyError
from engine.scheduler import Scheduler

START = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_full_runs_keep_the_interval_under_a_busy_stream_of_changes() -> None:
    """R01: with a named request every 30 seconds for two hours, full runs come exactly
    every interval (never more often), named runs never move the next full run, and every
    named request is served."""
    clock = Clock()
    served: list[tuple[datetime, SyncRequest]] = []
    scheduler = Scheduler(lambda request: served.append((clock(), request)), lambda: 10, clock)
    stop = threading.Event()
    for step in range(240):
        clock.now = at(step / 2)
        kind = PSA_CHANGE if step % 2 else MAILBOX
        scheduler.request(SyncRequest(kind, frozenset({step % 5}), {step % 5: clock.now}))
        while scheduler.run_pending(stop):
            pass
    full = [moment for moment, request in served if request.full]
    assert full == [at(minutes) for minutes in range(0, 120, 10)]
    assert all(request.trigger == SCHEDULE for _, request in served if request.full)
    named = [request for _, request in served if not request.full]
    assert len(named) == 240
    assert all(len(request.user_ids) == 1 for request in named)


def test_queued_requests_of_a_trigger_coalesce() -> None:
    """Named requests waiting together become one run per trigger: the union of their
    users and, per user, the earliest change time; the next full run stays where it was."""
    clock = Clock()
    served: list[SyncRequest] = []
    scheduler = Scheduler(served.append, lambda: 10, clock)
    stop = threading.Event()
    scheduler.run_pending(stop)  # the first full run
    assert scheduler.next_run == at(10)
    scheduler.request(SyncRequest(PSA_CHANGE, frozenset({1, 2}), {1: at(0.5), 2: at(0.2)}))
    scheduler.request(SyncRequest(MAILBOX, frozenset({1}), {1: at(0.3)}))
    scheduler.request(SyncRequest(PSA_CHANGE, frozenset({2, 3}), {2: at(0.1), 3: at(0.4)}))
    clock.now = at(1)
    while scheduler.run_pending(stop):
        pass
    assert [(r.trigger, r.user_ids, dict(r.changed_at)) for r in served[1:]] == [
        (PSA_CHANGE, frozenset({1, 2, 3}), {1: at(0.5), 2: at(0.1), 3: at(0.4)}),
        (MAILBOX, frozenset({1}), {1: at(0.3)}),
    ]
    assert scheduler.next_run == at(10)


def test_a_named_request_that_met_a_busy_lock_is_queued_again() -> None:
    """A triggered sync that could not take the profile's lock is not lost: it is queued
    again (merged with what came meanwhile) and served once the lock is free; a busy full
    run waits for the next interval (R01)."""
    clock = Clock()
    busy = [True]
    served: list[SyncRequest] = []

    def run(request: SyncRequest) -> None:
        if busy[0]:
            raise SyncBusyError("a sync of profile p is already running (pid 4242)")
        served.append(request)

    scheduler = Scheduler(run, lambda: 10, clock)
    stop = threading.Event()
    assert scheduler.run_pending(stop)  # the full run, skipped: busy
    assert scheduler.next_run == at(10) and not served
    scheduler.request(SyncRequest(PSA_CHANGE, frozenset({7}), {7: at(0)}))
    assert scheduler.run_pending(stop)
    assert [r.user_ids for r in scheduler.pending()] == [frozenset({7})]
    scheduler.request(SyncRequest(PSA_CHANGE, frozenset({8}), {8: at(0.1)}))
    busy[0] = False
    assert scheduler.run_pending(stop)
    assert [(r.user_ids, dict(r.changed_at)) for r in served] == [
        (frozenset({7, 8}), {7: at(0), 8: at(0.1)})
    ]
    assert scheduler.pending() == []

"""What ``msext sync`` and the console's "sync now" run: a profile's users through the runner,
then the error notifications the run calls for (R18), by e-mail and, as its rules say, to
Teams."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from engine.errors import UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.runner import Progress, RunFinished, Runner, utc_now
from engine.exchange.triggers import SyncRequest
from engine.followups import after_run
from engine.notify import notify_errors, publish_problems
from engine.profile import Profile
from engine.psa.model import Resource
from engine.run_lock import RunLock


def select_users(profile: Profile, queries: Sequence[str] = ()) -> list[Resource]:
    """The enabled users, or the ones named (each must be enabled)."""
    settings = profile.settings
    if not settings.exchange.general.enabled:
        raise UserError(
            "the MS Exchange extension is not enabled: set exchange.general.enabled (General tab)"
        )
    enabled = {
        resource.id: resource
        for resource in profile.resources()
        if resource.active and settings.resource(resource.id).enabled
    }
    if not queries:
        return sorted(enabled.values(), key=lambda resource: resource.name.lower())
    chosen = []
    for query in queries:
        resource = profile.find_user(query)
        if resource.id not in enabled:
            raise UserError(
                f"{resource.name} <{resource.email}> is not enabled for the MS Exchange extension"
                " (Resources tab) or is inactive in the PSA"
            )
        chosen.append(resource)
    return chosen


def sync(
    profile: Profile,
    users: Sequence[Resource],
    dry_run: bool = False,
    trigger: str = "cli",
    cancel: threading.Event | None = None,
    allow_mass_delete: bool = False,
    clock: Callable[[], datetime] = utc_now,
    secret: str | None = None,
    wait: float = 0.0,
    changed_at: Mapping[int, datetime] | None = None,
) -> Iterator[Progress | RunFinished]:
    """One run over ``users``; progress events, then :class:`RunFinished`.

    ``trigger`` says why (:mod:`engine.exchange.triggers`: ``schedule``, ``psa-change``,
    ``mailbox``, or an admin's ``cli``/``console``/``setup``), ``changed_at`` per user the
    earliest change the trigger carries (each user's latency is measured from it).

    ``clock`` is the run's idea of now (the sync window is reckoned from it); ``secret`` is
    the account's secret when it is not saved yet (the setup wizard's dry run). A run that
    writes holds the profile's lock: while another holds it, this one waits up to ``wait``
    seconds, then raises :class:`~engine.run_lock.SyncBusyError` naming the holder. A dry
    run writes nothing and runs beside anything.
    """
    settings = profile.settings
    lock = RunLock(profile.paths)
    if not dry_run:
        lock.acquire(wait)
    try:
        with exchange_connector(settings, profile.paths, secret) as connector:
            runner = Runner(
                settings, profile.psa, profile.state, connector, profile.installation, clock=clock
            )
            for event in runner.run(
                users,
                dry_run=dry_run,
                trigger=trigger,
                cancel=cancel,
                allow_mass_delete=frozenset(user.id for user in users)
                if allow_mass_delete
                else frozenset(),
                changed_at=changed_at,
            ):
                if isinstance(event, RunFinished):
                    notify_errors(profile, connector, event.result, now=clock())
                    if not dry_run:
                        publish_problems(profile, event.result, now=clock())
                        after_run(profile, clock())
                yield event
    finally:
        lock.release()


def serve_request(
    profile: Profile, request: SyncRequest, wait: float = 0.0
) -> Iterator[Progress | RunFinished]:
    """A scheduler's request as a run: every enabled user for a full one, else exactly the
    named users still enabled (none left: no run). Same lock and path as any run; a busy
    lock past ``wait`` raises :class:`~engine.run_lock.SyncBusyError` (the scheduler
    queues a named request again)."""
    users = select_users(profile)
    if not request.full:
        users = [user for user in users if user.id in request.user_ids]
        if not users:
            return
    yield from sync(
        profile, users, trigger=request.trigger, changed_at=request.changed_at, wait=wait
    )

"""``msext sync``, ``msext status`` and ``msext daemon``: the engine from the command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

from console.commands.output import emit, emit_json, table
from engine import daemon
from engine.daemon import psa_usage
from engine.errors import UserError
from engine.exchange.runner import Progress, RunFinished, RunResult
from engine.exchange.sync import select_users, sync
from engine.exchange.triggers import LATENCY_DIRECTIONS, latency_figures
from engine.profile import Profile
from engine.scheduler import Scheduler

LATENCY_SPAN = timedelta(hours=24)
"""The runs whose latencies ``msext status --json`` summarises."""


def register(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "sync",
        help="sync the enabled users (once with --once, else every interval until Ctrl-C)",
        description="Copies PSA items into the users' mailboxes and mailbox appointments into"
        " the PSA. Exit 0 when every user synced, 1 when a user or an item failed or was held.",
    )
    run.add_argument("--once", action="store_true", help="one run, then exit")
    run.add_argument(
        "--user", action="append", default=[], metavar="USER", help="only this user (repeatable)"
    )
    run.add_argument("--dry-run", action="store_true", help="report the plan; write nothing")
    run.add_argument(
        "--allow-deletions",
        action="store_true",
        help="release the mass-deletion guard for the --user(s) of this run",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while another sync of the profile runs, wait up to this long (default: exit at"
        " once with code 75)",
    )
    run.add_argument("--json", action="store_true", help="print the run's result as JSON")
    run.set_defaults(handler=run_sync)

    status = commands.add_parser("status", help="per user: last run, outcome, pending, errors")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=show_status)

    daemon = commands.add_parser(
        "daemon",
        help="run the scheduler in the foreground, for a service manager (systemd): the"
        " mailbox sync every interval, AD sync every 24 hours per organization, the MS"
        " Teams outbox as cards arrive, and the Teams notification rules every minute",
    )
    daemon.set_defaults(handler=run_daemon)


def run_sync(args: argparse.Namespace, profile: Profile) -> int:
    if args.allow_deletions and not args.user:
        raise UserError("--allow-deletions needs --user: release the guard one mailbox at a time")
    if args.once or args.dry_run:
        return _one_run(args, profile)
    stop = threading.Event()
    scheduler = Scheduler(
        run=lambda _request: _one_run(args, profile),
        interval_minutes=lambda: profile.reload().exchange.sync.interval_minutes,
    )
    try:
        scheduler.serve(stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _one_run(args: argparse.Namespace, profile: Profile) -> int:
    users = select_users(profile, args.user)
    result: RunResult | None = None
    show_progress = sys.stderr.isatty() and not args.json
    for event in sync(
        profile,
        users,
        dry_run=args.dry_run,
        allow_mass_delete=args.allow_deletions,
        wait=args.wait,
    ):
        if isinstance(event, RunFinished):
            result = event.result
        elif show_progress and isinstance(event, Progress) and event.phase == "done":
            print(f"\r{event.done}/{event.total} users", end="", file=sys.stderr, flush=True)
    if show_progress:
        print(file=sys.stderr)
    assert result is not None
    usage = psa_usage(profile)
    if args.json:
        emit_json(result.as_dict() | ({"psa_api": usage} if usage else {}))
    else:
        emit(render_run(result) + (f"\n{usage}" if usage else ""))
    return 0 if result.outcome == "ok" else 1


def render_run(result: RunResult) -> str:
    rows = [
        (
            user.name,
            user.outcome,
            str(user.totals["created"]),
            str(user.totals["updated"]),
            str(user.totals["deleted"]),
            str(user.errors),
            user.message,
        )
        for user in result.users
    ]
    totals = result.totals
    heading = "Dry run (nothing written)" if result.dry_run else f"Run {result.run_id}"
    return "\n".join(
        [
            f"{heading}: {result.outcome}; created {totals['created']}, updated"
            f" {totals['updated']}, deleted {totals['deleted']}, skipped {totals['skipped']},"
            f" errors {totals['errors']}",
            "",
            table(("User", "Outcome", "Created", "Updated", "Deleted", "Errors", "Message"), rows),
        ]
    )


def show_status(args: argparse.Namespace, profile: Profile) -> int:
    users = select_users(profile)
    states = profile.state.users()
    report = []
    for user in users:
        state = states.get(user.id)
        runs = profile.state.user_runs(user.id, limit=1)
        last = runs[0] if runs else None
        report.append(
            {
                "user_id": user.id,
                "name": user.name,
                "mailbox": profile.mailbox_address(user),
                "last_run_id": state.last_run_id if state else None,
                "last_attempt_at": _iso(state.last_attempt_at if state else None),
                "last_success_at": _iso(state.last_success_at if state else None),
                "outcome": state.last_outcome if state else "never synced",
                "pending": last.pending if last else 0,
                "errors": last.errors if last else 0,
                "last_error": state.last_error if state else None,
                "guard": state.guard_detail if state else None,
                "note": last.message if last and last.outcome == "ok" else None,
                "last_trigger": last.trigger or None if last else None,
                "last_latency_s": last.latency_s if last else None,
            }
        )
    runs = profile.state.runs(limit=1)
    since = datetime.now(UTC) - LATENCY_SPAN
    if args.json:
        last_run = runs[0] if runs else None
        emit_json(
            {
                "last_run": None
                if last_run is None
                else {
                    "run_id": last_run.id,
                    "outcome": last_run.outcome,
                    "started_at": _iso(last_run.started_at),
                    "finished_at": _iso(last_run.finished_at),
                    "created": last_run.created,
                    "updated": last_run.updated,
                    "deleted": last_run.deleted,
                    "skipped": last_run.skipped,
                    "errors": last_run.errors,
                },
                "users": report,
                "latency": {
                    direction: latency_figures(profile.state.latencies(trigger, since))
                    for direction, trigger in LATENCY_DIRECTIONS.items()
                },
                "watch": watch.as_dict() if (watch := profile.state.watch_report()) else None,
            }
        )
    else:
        emit(
            table(
                ("User", "Outcome", "Last attempt", "Pending", "Errors", "Last error or note"),
                [
                    (
                        row["name"],
                        str(row["outcome"]),
                        str(row["last_attempt_at"] or "never"),
                        str(row["pending"]),
                        str(row["errors"]),
                        str(row["guard"] or row["last_error"] or row["note"] or ""),
                    )
                    for row in report
                ],
            )
        )
    bad = any(row["outcome"] not in ("ok", "never synced") for row in report)
    return 1 if bad else 0


def run_daemon(args: argparse.Namespace, profile: Profile) -> int:
    """The daemon's services (engine.daemon) until SIGTERM or SIGINT."""
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    daemon.serve(profile, stop)
    return 0


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None

"""What ``msext daemon`` runs for one profile until stopped: the mailbox sync's scheduler and,
beside it, the PSA change poll and the mailbox watcher (which request runs of the users they
name, issue 21), AD sync's schedule, and the MS Teams outbox and rules.

Kept apart from the command line so that a benchmark or a test runs the very same services
in its own process."""

from __future__ import annotations

import logging
import threading

from engine.adsync.schedule import serve_schedule
from engine.exchange.psa_poll import serve_psa_poll
from engine.exchange.runner import RunFinished
from engine.exchange.sync import serve_request
from engine.exchange.triggers import SyncRequest
from engine.exchange.watch import serve_mailbox_watch
from engine.profile import Profile
from engine.psa.rest import RestPsa
from engine.scheduler import Scheduler
from engine.teams.delivery import serve_outbox
from engine.teams.watch import serve as serve_teams_rules

log = logging.getLogger(__name__)

WAIT_SECONDS = 60.0
"""How long a scheduled run waits for a run started elsewhere (the CLI, the console)."""


def psa_usage(profile: Profile) -> str | None:
    """The PSA API requests and hourly budget, when the PSA is read through its REST API."""
    return profile.psa.usage() if isinstance(profile.psa, RestPsa) else None


def serve(profile: Profile, stop: threading.Event) -> None:
    """Every service of the daemon until ``stop`` is set; settings are re-read before
    every run."""

    def run(request: SyncRequest) -> None:
        profile.reload()
        for event in serve_request(profile, request, wait=WAIT_SECONDS):
            if isinstance(event, RunFinished):
                usage = psa_usage(profile)
                log.info(
                    "%s run %s finished: %s %s%s",
                    request.trigger,
                    event.result.run_id,
                    event.result.outcome,
                    event.result.totals,
                    f"; {usage}" if usage else "",
                )

    scheduler = Scheduler(run, lambda: profile.settings.exchange.sync.interval_minutes)
    log.info("daemon started for profile %s", profile.name)
    paths = profile.paths
    watcher_profile = Profile(paths)
    beside = [
        threading.Thread(target=target, args=arguments, name=name, daemon=True)
        for name, target, arguments in (
            ("adsync-schedule", serve_schedule, (paths, stop)),
            ("teams-delivery", serve_outbox, (paths, stop)),
            ("teams-rules", serve_teams_rules, (paths, stop)),
            ("psa-poll", serve_psa_poll, (paths, scheduler.request, stop)),
            ("mailbox-watch", serve_mailbox_watch, (watcher_profile, scheduler.request, stop)),
        )
    ]
    for thread in beside:
        thread.start()
    scheduler.serve(stop)
    for thread in beside:
        thread.join()
    watcher_profile.close()
    log.info("daemon stopped")

"""Sync error notifications (R18): the General tab's recipients hear of each problem once a day.

One message per user and error kind per day, never a flood: a mailbox that fails every ten
minutes produces one message, not 144. The message goes out through the synchronization
account's own mailbox and carries the diagnosis summary, so support can act without first
running ``msext doctor``. A message that cannot be sent gives its claim back, so the next
run tries again; a failed notification never fails the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from engine.events import Happening, HappeningKind, daily_key, publish
from engine.exchange.diagnosis import Diagnosis, Verdict, diagnose_with
from engine.exchange.mailbox.base import MailboxConnector, MailboxError
from engine.exchange.runner import RunResult, UserResult, utc_now
from engine.profile import Profile
from engine.redaction import redactor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    user_id: int
    kind: str
    subject: str
    body: str


def error_kind(user: UserResult) -> str | None:
    """What went wrong for this user in a run, or None if nothing needs a human."""
    if user.outcome == "error":
        return user.error_kind or "error"
    if user.outcome == "held":
        return "guard"
    if user.errors:
        return "item_errors"
    return None


def notify_errors(
    profile: Profile,
    connector: MailboxConnector,
    result: RunResult,
    now: datetime | None = None,
) -> list[Notice]:
    """Send what this run's problems call for; returns the messages sent."""
    recipients = profile.settings.exchange.general.error_recipients
    if result.dry_run or not recipients:
        return []
    problems = run_problems(result)
    if not problems:
        return []
    now = now or utc_now()
    day = now.date().isoformat()
    resources = {resource.id: resource for resource in profile.resources()}
    sent = []
    for user, kind in problems:
        if not profile.state.claim_notification(user.user_id, kind, day, now):
            continue
        try:
            diagnosis = diagnose_with(profile, resources[user.user_id], connector)
            notice = compose(user, kind, result.run_id, diagnosis, profile)
            connector.send_message(recipients, notice.subject, notice.body)
        except MailboxError as error:
            profile.state.release_notification(user.user_id, kind, day)
            log.warning("error notification for %s not sent: %s", user.mailbox, error)
            continue
        except Exception:
            profile.state.release_notification(user.user_id, kind, day)
            log.exception("error notification for %s not sent", user.mailbox)
            continue
        log.info("error notification for %s (%s) sent to %s", user.mailbox, kind, recipients)
        sent.append(notice)
    return sent


def run_problems(result: RunResult) -> list[tuple[UserResult, str]]:
    """Each user of the run that needs a human, with the kind of their problem."""
    return [(user, kind) for user in result.users if (kind := error_kind(user))]


def publish_problems(profile: Profile, result: RunResult, now: datetime | None = None) -> int:
    """The run's problems as happenings (``engine.events``) for the Teams rules: a held
    mass deletion, or a sync error once a day per user and kind, as the e-mail (R18)."""
    if result.dry_run:
        return 0
    now = now or utc_now()
    day = now.date().isoformat()
    happenings = []
    for user, kind in run_problems(result):
        held = kind == "guard"
        happening_kind = HappeningKind.MASS_DELETION_HELD if held else HappeningKind.SYNC_ERROR
        facts = [("User", user.name), ("Mailbox", user.mailbox)]
        facts += [("Problem", _HEADLINES.get(kind, "the sync failed")), ("Run", str(result.run_id))]
        facts.append(("Report", profile.paths.command("doctor", user.mailbox)))
        happenings.append(
            Happening(
                kind=happening_kind,
                key=daily_key(happening_kind, user.user_id, kind, day),
                at=now,
                subject=f"{user.name} <{user.mailbox}>",
                message=redactor.redact(user.message or _HEADLINES.get(kind, "the sync failed")),
                facts=tuple(facts),
            )
        )
    return publish(profile.paths, happenings)


_HEADLINES = {
    "access_denied": "the synchronization account may not open the mailbox",
    "mailbox_not_found": "Exchange does not know the mailbox",
    "mailbox": "the mailbox could not be synchronized",
    "internal": "msext hit an internal error",
    "guard": "the mass-deletion guard is holding deletions",
    "item_errors": "some items could not be synchronized",
}


def compose(
    user: UserResult, kind: str, run_id: int | None, diagnosis: Diagnosis, profile: Profile
) -> Notice:
    headline = _HEADLINES.get(kind, "the sync failed")
    lines = [
        f"msext could not fully synchronize {user.name} <{user.mailbox}>: {headline}.",
        "",
        f"Run {run_id}: {user.outcome}. {user.message}".rstrip(),
    ]
    failed = profile.state.failed_items(user.user_id)
    if kind == "item_errors" and failed:
        lines += ["", "Items that failed (newest first):"]
        lines += [f"  {event.key or event.item_id}: {event.error}" for event in failed]
    problems = [c for c in diagnosis.checks if c.verdict in (Verdict.FAILED, Verdict.WARNING)]
    lines += ["", f"Diagnosis: {diagnosis.verdict}."]
    for check in problems:
        lines.append(f"  [{check.verdict}] {check.title}: {check.evidence}")
        if check.fix:
            lines.append(f"      Fix: {check.fix}")
        lines += [f"      {n}. {step}" for n, step in enumerate(check.steps, start=1)]
    lines += [
        "",
        f"Full report: {profile.paths.command('doctor', user.mailbox)}",
        "You get at most one message per user and kind of error per day.",
    ]
    subject = f"msext: sync problem for {user.name} ({kind.replace('_', ' ')})"
    return Notice(user.user_id, kind, subject, redactor.redact("\n".join(lines)))

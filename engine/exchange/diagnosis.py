"""Why one user's calendar or contacts do not sync: ordered checks, evidence, one-line fixes.

The same checks run in the console's diagnosis tab and in ``msext doctor``. Checks that
need Exchange run only when the user is a candidate at all; a check that cannot run is
reported as skipped with the reason, never silently passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from engine.errors import UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.mailbox.base import (
    AccessPolicyError,
    FolderKind,
    Mailbox,
    MailboxConnector,
    MailboxError,
    MissingPermissionError,
)
from engine.exchange.runner import Runner, utc_now
from engine.humanize import age
from engine.profile import Profile
from engine.psa.model import Resource
from engine.redaction import redactor
from engine.settings.model import MailboxApi


class Verdict(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    verdict: Verdict
    evidence: str
    fix: str = ""
    steps: tuple[str, ...] = ()
    """A remedy in several steps (the seed's contact remedy)."""


@dataclass
class Diagnosis:
    user: Resource
    mailbox: str
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        verdicts = {check.verdict for check in self.checks}
        for worst in (Verdict.FAILED, Verdict.WARNING):
            if worst in verdicts:
                return worst
        return Verdict.OK

    @property
    def exit_code(self) -> int:
        return {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.FAILED: 2}[self.verdict]

    def as_dict(self) -> dict[str, object]:
        return {
            "user": {
                "resource_id": self.user.id,
                "name": self.user.name,
                "email": self.user.email,
                "mailbox": self.mailbox,
            },
            "verdict": self.verdict.value,
            "checks": [
                {
                    "key": check.key,
                    "title": check.title,
                    "verdict": check.verdict.value,
                    "evidence": redactor.redact(check.evidence),
                    "fix": check.fix,
                    "steps": list(check.steps),
                }
                for check in self.checks
            ],
        }


def diagnose(profile: Profile, user: Resource) -> Diagnosis:
    """Run every check for one user, connecting to Exchange only if the user is a candidate."""
    settings = profile.settings
    candidate = user.active and settings.exchange.general.enabled
    candidate = candidate and settings.resource(user.id).enabled
    if not candidate:
        return _diagnosis(profile, user, None, "the user is not a sync candidate")
    try:
        with exchange_connector(settings, profile.paths) as connector:
            return _diagnosis(profile, user, connector, "")
    except (UserError, MailboxError) as error:
        return _diagnosis(profile, user, None, f"no connection to Exchange: {error}")


def diagnose_with(profile: Profile, user: Resource, connector: MailboxConnector) -> Diagnosis:
    """Every check over a connection already open (a run's, for its error notifications)."""
    return _diagnosis(profile, user, connector, "")


def _diagnosis(
    profile: Profile, user: Resource, connector: MailboxConnector | None, why_not: str
) -> Diagnosis:
    checks = list(_checks(profile, user, connector, why_not))
    return Diagnosis(user, profile.mailbox_address(user), checks)


def _checks(
    profile: Profile, user: Resource, connector: MailboxConnector | None, why_not: str
) -> Iterator[Check]:
    settings = profile.settings
    address = profile.mailbox_address(user)
    name = f"{user.name} <{user.email}>"
    if user.active:
        yield Check("psa_user", "User exists and is active in the PSA", Verdict.OK, name)
    else:
        yield Check(
            "psa_user",
            "User exists and is active in the PSA",
            Verdict.FAILED,
            f"{name} is inactive in the PSA",
            "Activate the resource in the PSA.",
        )
    enabled = settings.exchange.general.enabled and settings.resource(user.id).enabled
    if enabled:
        yield Check("enabled", "Enabled for the MS Exchange extension", Verdict.OK, address)
    else:
        where = (
            "the extension is off on the General tab"
            if not settings.exchange.general.enabled
            else "the user is not enabled on the Resources tab"
        )
        yield Check(
            "enabled",
            "Enabled for the MS Exchange extension",
            Verdict.FAILED,
            where,
            "Enable the user on the MS Exchange page's Resources tab (and the extension on"
            " the General tab), then Save.",
        )
    yield from _exchange_checks(profile, user, address, connector, why_not)
    yield _last_run(profile, user)
    yield _pending(profile, user)
    yield from _module_checks(profile, user)
    yield _guard(profile, user)


_EWS_TITLES = {
    "resolves": "Mailbox address resolves",
    "impersonation": "The synchronization account can impersonate the mailbox (R14)",
    "folders": "Each synced folder is reachable",
}
_GRAPH_TITLES = {
    "resolves": "Mailbox address resolves",
    "access_policy": "The application access policy includes the mailbox (R14)",
    "permissions": "The app registration has the permission of each synced folder",
}


def _exchange_checks(
    profile: Profile,
    user: Resource,
    address: str,
    connector: MailboxConnector | None,
    why_not: str,
) -> Iterator[Check]:
    general = profile.settings.exchange.general
    graph = general.mailbox_api is MailboxApi.GRAPH
    titles = _GRAPH_TITLES if graph else _EWS_TITLES
    if why_not.startswith("no connection"):
        yield Check(
            "connection",
            "Exchange connection",
            Verdict.FAILED,
            why_not,
            "Check the tenant id, client id and secret of the app registration on the General tab."
            if graph
            else "Check the EWS URL, the synchronization account and its secret on the General"
            " tab.",
        )
    if connector is None:
        for key, title in titles.items():
            yield Check(key, title, Verdict.SKIPPED, f"not checked: {why_not}")
        return
    yield _resolves(connector, address, titles["resolves"])
    mailbox = connector.open(address)
    runner = Runner(profile.settings, profile.psa, profile.state, connector, profile.installation)
    policy, kinds = runner.policy(user, allow_mass_delete=False)
    folders = runner.folders(kinds, policy)
    if graph:
        yield from _graph_access(mailbox, address, folders, general.oauth_client_id or "")
    else:
        yield from _ews_access(mailbox, address, folders, general.sync_account)


def _resolves(connector: MailboxConnector, address: str, title: str) -> Check:
    try:
        found = connector.resolve(address)
    except MailboxError as error:
        found, problem = False, str(error)
    else:
        problem = f"Exchange does not know {address}"
    if found:
        return Check("resolves", title, Verdict.OK, address)
    return Check(
        "resolves",
        title,
        Verdict.FAILED,
        problem,
        "Correct the mailbox address on the Resources tab (m on the user), then Save.",
    )


def _ews_access(
    mailbox: Mailbox, address: str, folders: list[FolderKind], account: str
) -> Iterator[Check]:
    titles = _EWS_TITLES
    try:
        mailbox.check_access()
    except MailboxError as error:
        yield Check(
            "impersonation",
            titles["impersonation"],
            Verdict.FAILED,
            str(error),
            "Ask the Exchange administrator to grant the synchronization account"
            " impersonation of this mailbox (New-ManagementRoleAssignment -Role"
            f" ApplicationImpersonation -User {account}).",
        )
        yield Check("folders", titles["folders"], Verdict.SKIPPED, "not checked: no access")
        return
    yield Check("impersonation", titles["impersonation"], Verdict.OK, f"access to {address}")
    failures = []
    for folder in folders:
        try:
            mailbox.reach(folder)
        except MailboxError as error:
            failures.append(f"{folder}: {error}")
    if failures:
        yield Check(
            "folders",
            titles["folders"],
            Verdict.FAILED,
            "; ".join(failures),
            "Check the mailbox in Outlook Web Access; the folder must exist and not be hidden.",
        )
    else:
        yield Check("folders", titles["folders"], Verdict.OK, ", ".join(folders) or "none synced")


def _graph_access(
    mailbox: Mailbox, address: str, folders: list[FolderKind], client_id: str
) -> Iterator[Check]:
    """The access policy first (nothing else can pass without it), then the application
    permission of each synced folder (R19)."""
    titles = _GRAPH_TITLES
    reached: dict[FolderKind, MailboxError | None] = {}
    for folder in folders or [FolderKind.CALENDAR]:
        try:
            mailbox.reach(folder)
            reached[folder] = None
        except MailboxError as error:
            reached[folder] = error
    errors = [error for error in reached.values() if error is not None]
    refused = next((error for error in errors if isinstance(error, AccessPolicyError)), None)
    if refused is not None:
        yield Check(
            "access_policy",
            titles["access_policy"],
            Verdict.FAILED,
            str(refused),
            "Add the mailbox to the group the application access policy is limited to"
            f' (Add-DistributionGroupMember -Identity "msext mailboxes" -Member {address}),'
            f" then check it: Test-ApplicationAccessPolicy -AppId {client_id or '<client id>'}"
            f" -Identity {address}.",
        )
        yield Check("permissions", titles["permissions"], Verdict.SKIPPED, "not checked: no access")
        return
    if len(errors) < len(reached):
        yield Check("access_policy", titles["access_policy"], Verdict.OK, f"access to {address}")
    elif all(isinstance(error, MissingPermissionError) for error in errors):
        yield Check(
            "access_policy",
            titles["access_policy"],
            Verdict.SKIPPED,
            "not checked: no folder could be read with the app's permissions",
        )
    else:
        yield Check("access_policy", titles["access_policy"], Verdict.FAILED, str(errors[0]))
    lines = [f"{folder}: {_permission_status(error)}" for folder, error in reached.items()]
    missing = sorted(
        {error.permission for error in errors if isinstance(error, MissingPermissionError)}
    )
    if missing:
        yield Check(
            "permissions",
            titles["permissions"],
            Verdict.FAILED,
            "; ".join(lines),
            f"In Microsoft Entra ID, add the application permission {', '.join(missing)} to the"
            " app registration and grant admin consent.",
        )
    else:
        yield Check("permissions", titles["permissions"], Verdict.OK, "; ".join(lines))


def _permission_status(error: MailboxError | None) -> str:
    if error is None:
        return "readable"
    if isinstance(error, MissingPermissionError):
        return f"{error.permission} missing"
    return str(error)


def _last_run(profile: Profile, user: Resource, now: datetime | None = None) -> Check:
    title = "Last run outcome and age"
    state = profile.state.user(user.id)
    interval = timedelta(minutes=profile.settings.exchange.sync.interval_minutes)
    sync_now = profile.paths.command("sync", "--once", "--user", user.email)
    fix = f"Run: {sync_now} (and check that {profile.paths.command('daemon')} runs)."
    if state is None or state.last_attempt_at is None:
        return Check("last_run", title, Verdict.WARNING, "never synced", fix)
    now = now or utc_now()
    elapsed = now - state.last_attempt_at
    minutes = profile.settings.exchange.sync.interval_minutes
    evidence = f"{state.last_outcome} {age(elapsed)} ago (interval {minutes} min)"
    if state.last_outcome == "error":
        fix = f"Correct the cause named above, then run: {sync_now}"
        return Check("last_run", title, Verdict.FAILED, f"{evidence}: {state.last_error}", fix)
    if elapsed > 2 * interval:
        return Check("last_run", title, Verdict.WARNING, f"{evidence}: overdue", fix)
    if state.last_outcome != "ok":
        detail = f"{evidence}: {state.last_error or ''}"
        return Check("last_run", title, Verdict.WARNING, detail, fix)
    return Check("last_run", title, Verdict.OK, evidence)


def _pending(profile: Profile, user: Resource) -> Check:
    title = "Pending items and the last errors"
    runs = profile.state.user_runs(user.id, limit=1)
    failed = profile.state.failed_items(user.id)
    pending = runs[0].pending if runs else 0
    if not failed and not pending:
        return Check("pending", title, Verdict.OK, "nothing pending, no failed item")
    lines = [f"{pending} pending"] + [
        f"{event.key or event.item_id}: {event.verb} failed ({event.rule}): {event.error}"
        for event in failed
    ]
    verdict = Verdict.FAILED if failed and runs and runs[0].errors else Verdict.WARNING
    return Check(
        "pending",
        title,
        verdict,
        "; ".join(lines),
        "Fix the record named in the error in the PSA; the next run retries it.",
    )


def _module_checks(profile: Profile, user: Resource) -> Iterator[Check]:
    comparison = profile.comparison(user)
    conflicts = [c for c in comparison.conflicts if c.code == "contacts_both"]
    if conflicts:
        conflict = conflicts[0]
        yield Check(
            "outlook_conflict",
            "Conflicts with the MS Outlook extension (R12)",
            Verdict.WARNING,
            conflict.detail,
            "Follow the two steps below.",
            steps=conflict.remedy,
        )
    else:
        yield Check(
            "outlook_conflict",
            "Conflicts with the MS Outlook extension (R12)",
            Verdict.OK,
            "contacts are synced by one module at most",
        )
    limits = [c for c in comparison.conflicts if c.code.startswith("limit_")]
    if limits:
        yield Check(
            "limits",
            "Item types the administrator's limits block (R03)",
            Verdict.WARNING,
            "; ".join(c.title for c in limits),
            limits[0].remedy[0] if limits[0].remedy else "",
        )
    else:
        yield Check(
            "limits",
            "Item types the administrator's limits block (R03)",
            Verdict.OK,
            "nothing the user asked for is blocked",
        )


def _guard(profile: Profile, user: Resource) -> Check:
    title = "Mass-deletion guard"
    state = profile.state.user(user.id)
    if state and state.guard_detail:
        return Check(
            "guard",
            title,
            Verdict.FAILED,
            state.guard_detail,
            "Review the deletions, then release them: "
            + profile.paths.command("sync", "--once", "--user", user.email, "--allow-deletions"),
        )
    return Check("guard", title, Verdict.OK, "not holding this mailbox")

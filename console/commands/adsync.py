"""``msext adsync``: Active Directory (AD) Sync from the command line (issue 19).

``list`` the organizations, ``run`` them (one or all enabled), show an organization's
``users`` with their last outcome, and ``resolve`` a user's conflict. Exit codes as
``msext sync``: 0 every run ok, 1 a run had conflicts, errors, held inactivations or failed,
2 bad input, 75 a run of the organization is already going on.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from console.commands.output import emit, emit_json, table
from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.run import AdSyncResult
from engine.adsync.state import TOTALS, AdSyncRun, UserRecord
from engine.adsync.sync import (
    company_names,
    enabled_organizations,
    find_organization,
    next_run,
    sync_organization,
)
from engine.errors import UserError
from engine.profile import Profile


def register(commands: argparse._SubParsersAction) -> None:
    adsync = commands.add_parser(
        "adsync",
        help="Active Directory (AD) Sync: organizations' directory users become PSA contacts",
        description="One way, directory -> PSA contacts, per organization (Entra ID or LDAPS)."
        " Exit 0 when every run was ok, 1 when one had conflicts, errors, held inactivations"
        " or failed, 75 when a run of the organization is already going on.",
    )
    verbs = adsync.add_subparsers(title="commands", metavar="COMMAND", required=True)
    listing = verbs.add_parser("list", help="organizations with AD sync: type, users, last runs")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_organizations)

    run = verbs.add_parser("run", help="run AD sync now: one organization or every enabled one")
    run.add_argument("organization", nargs="?", metavar="ORG", help="company id or name")
    run.add_argument("--dry-run", action="store_true", help="report the plan; write nothing")
    run.add_argument(
        "--allow-inactivations",
        action="store_true",
        help="release the guard that holds inactivations when the scope shrinks suspiciously",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while a run of the organization is going on, wait up to this long (else exit 75)",
    )
    run.add_argument("--json", action="store_true", help="print the runs' totals as JSON")
    run.set_defaults(handler=run_adsync)

    users = verbs.add_parser("users", help="an organization's users in scope and their outcome")
    users.add_argument("organization", metavar="ORG", help="company id or name")
    users.add_argument("--conflicts", action="store_true", help="only the users in conflict")
    users.add_argument("--json", action="store_true")
    users.set_defaults(handler=show_users)

    resolve = verbs.add_parser("resolve", help="resolve a user's conflict for the next runs")
    resolve.add_argument("organization", metavar="ORG", help="company id or name")
    resolve.add_argument("user", metavar="USER", help="directory id, login or e-mail address")
    choice = resolve.add_mutually_exclusive_group(required=True)
    choice.add_argument("--contact", type=int, metavar="ID", help="this PSA contact is the user")
    choice.add_argument("--new", action="store_true", help="create a new contact for the user")
    choice.add_argument("--exclude", action="store_true", help="leave the user out of the sync")
    resolve.set_defaults(handler=resolve_conflict)


def list_organizations(args: argparse.Namespace, profile: Profile) -> int:
    organizations = profile.settings.adsync.organizations
    names = company_names(profile) if organizations else {}
    counts = profile.adsync.counts()
    now = datetime.now(UTC)
    report = []
    for company_id, org in sorted(organizations.items()):
        runs = profile.adsync.runs(company_id)
        last = next((run for run in runs if not run.dry_run), None)
        report.append(
            {
                "organization": company_id,
                "name": names.get(company_id, ""),
                "enabled": org.enabled,
                "directory": org.directory.value,
                "synced_users": counts.get(company_id, {}).get("synced", 0),
                "conflicts": counts.get(company_id, {}).get("conflicts", 0),
                "last_run": _run_dict(last) if last else None,
                "next_run": next_run(profile, company_id, now).isoformat() if org.enabled else None,
                "runs": [run.outcome for run in runs],
            }
        )
    if args.json:
        emit_json(report)
        return 0
    if not report:
        emit("No organization has AD sync set up (console: Admin > Microsoft Extensions).")
        return 0
    emit(
        table(
            ("Org", "Name", "Enabled", "Type", "Synced", "Conflicts", "Last sync", "Last runs"),
            [
                (
                    str(row["organization"]),
                    str(row["name"]),
                    "yes" if row["enabled"] else "no",
                    "Entra ID" if row["directory"] == "entra_id" else "LDAPS",
                    str(row["synced_users"]),
                    str(row["conflicts"]),
                    _last_sync(row["last_run"]),
                    " ".join(str(outcome) for outcome in reversed(row["runs"])) or "never",
                )
                for row in report
            ],
        )
    )
    return 0


def run_adsync(args: argparse.Namespace, profile: Profile) -> int:
    if args.organization:
        chosen = [find_organization(profile, args.organization)]
    else:
        chosen = enabled_organizations(profile)
        if not chosen:
            raise UserError("no organization has AD sync enabled (msext adsync list)")
    if args.allow_inactivations and not args.organization:
        raise UserError(
            "--allow-inactivations needs ORG: release the guard one organization at a time"
        )
    show_progress = sys.stderr.isatty() and not args.json
    results = []
    for company_id in chosen:

        def progress(done: int, total: int, company_id: int = company_id) -> None:
            print(f"\r{company_id}: {done}/{total} contacts written", end="", file=sys.stderr)

        results.append(
            sync_organization(
                profile,
                company_id,
                trigger="forced",
                dry_run=args.dry_run,
                allow_inactivations=args.allow_inactivations,
                wait=args.wait,
                progress=progress if show_progress else None,
            )
        )
        if show_progress:
            print(file=sys.stderr)
    if args.json:
        emit_json([result.as_dict() for result in results])
    else:
        emit(render_results(results, company_names(profile)))
    return 0 if all(result.ok for result in results) else 1


def render_results(results: list[AdSyncResult], names: dict[int, str]) -> str:
    rows = [
        (
            f"{result.company_id} {names.get(result.company_id, '')}".strip(),
            result.outcome,
            *(str(result.totals[name]) for name in TOTALS),
        )
        for result in results
    ]
    dry = any(result.dry_run for result in results)
    lines = ["Dry run (nothing written)", ""] if dry else []
    lines.append(
        table(
            ("Organization", "Outcome", *(name.capitalize() for name in TOTALS)),
            rows,
        )
    )
    for result in results:
        notes = [result.message] if result.held else []
        lines += [f"{result.company_id}: {line}" for line in notes + result.errors]
    return "\n".join(lines)


def show_users(args: argparse.Namespace, profile: Profile) -> int:
    company_id = find_organization(profile, args.organization)
    records = profile.adsync.users(company_id, conflicts_only=args.conflicts)
    if not records and not profile.adsync.runs(company_id):
        raise UserError(
            f"organization {company_id} has not run yet: see its users with"
            f" {profile.paths.command('adsync', 'run', str(company_id), '--dry-run')}"
        )
    if args.json:
        emit_json([_user_dict(record) for record in records])
    else:
        emit(
            table(
                ("User", "Name", "E-mail", "Outcome", "Contact", "Why"),
                [
                    (
                        record.login,
                        record.name,
                        record.email,
                        record.change,
                        str(record.contact_id or ""),
                        _why(record),
                    )
                    for record in records
                ],
            )
        )
    troubled = any(record.change in ("conflict", "error") for record in records)
    return 1 if troubled else 0


def resolve_conflict(args: argparse.Namespace, profile: Profile) -> int:
    company_id = find_organization(profile, args.organization)
    record = _find_user(profile.adsync.users(company_id), args.user)
    if args.contact is not None:
        contacts = {contact.id for contact in profile.psa.company_contacts(company_id)}
        if args.contact not in contacts:
            raise UserError(f"organization {company_id} has no PSA contact {args.contact}")
        resolution = Resolution(ResolutionKind.CONTACT, args.contact)
    else:
        resolution = Resolution(ResolutionKind.NEW if args.new else ResolutionKind.EXCLUDE)
    profile.adsync.resolve(company_id, record.directory_id, resolution)
    what = {
        ResolutionKind.CONTACT: f"is PSA contact {args.contact}",
        ResolutionKind.NEW: "gets a new PSA contact",
        ResolutionKind.EXCLUDE: "is left out of the sync",
    }[resolution.kind]
    emit(f"{record.login} {what} from the next run of organization {company_id}.")
    return 0


def _find_user(records: list[UserRecord], query: str) -> UserRecord:
    text = query.strip().casefold()
    matches = [
        record
        for record in records
        if text
        in (record.directory_id.casefold(), record.login.casefold(), record.email.casefold())
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(
            f"no user {query!r} in the organization's last run; give a directory id, login or"
            " e-mail address from msext adsync users ORG"
        )
    raise UserError(f"{query!r} names {len(matches)} users (a shared e-mail?): use the login")


def _why(record: UserRecord) -> str:
    if record.conflict_detail:
        candidates = ", ".join(str(c) for c in record.candidates)
        return record.conflict_detail + (f" (contacts {candidates})" if candidates else "")
    return record.detail or (f"by {record.step}" if record.step else "")


def _user_dict(record: UserRecord) -> dict[str, object]:
    return {
        "directory_id": record.directory_id,
        "login": record.login,
        "name": record.name,
        "email": record.email,
        "enabled": record.enabled,
        "outcome": record.change,
        "contact_id": record.contact_id,
        "matched_by": record.step,
        "conflict": record.conflict_kind,
        "conflict_detail": record.conflict_detail,
        "candidates": list(record.candidates),
        "detail": record.detail,
    }


def _run_dict(run: AdSyncRun) -> dict[str, object]:
    return {
        "run_id": run.id,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "outcome": run.outcome,
        **run.totals,
        "held": run.held,
        "message": run.message,
        "error_lines": list(run.errors),
    }


def _last_sync(run: object) -> str:
    if not isinstance(run, dict):
        return "never"
    return f"{str(run['started_at'])[:16].replace('T', ' ')} {run['outcome']}"

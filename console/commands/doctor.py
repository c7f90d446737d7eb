"""``msext doctor USER``: why one user's calendar or contacts do not sync."""

from __future__ import annotations

import argparse
import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from console.commands.output import emit, emit_json
from engine.errors import UserError
from engine.exchange.diagnosis import Diagnosis, diagnose
from engine.profile import Profile
from engine.redaction import redactor


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="diagnose one user: ordered checks with evidence and fixes",
        description="Exit 0 when every check passes, 1 with warnings, 2 with failures.",
    )
    doctor.add_argument("user", help="PSA resource id, e-mail address or a unique part of the name")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument(
        "--report", type=Path, metavar="FILE", help="write a report to attach to a ticket"
    )
    doctor.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace, profile: Profile) -> int:
    diagnosis = diagnose(profile, profile.find_user(args.user))
    if args.report:
        write_report(args.report, profile, diagnosis)
    if args.json:
        emit_json(diagnosis.as_dict())
    else:
        emit(render(diagnosis))
        if args.report:
            emit(f"\nreport written to {args.report}")
    return diagnosis.exit_code


def render(diagnosis: Diagnosis) -> str:
    user = diagnosis.user
    lines = [f"{user.name} <{user.email}>, mailbox {diagnosis.mailbox}: {diagnosis.verdict}", ""]
    for number, check in enumerate(diagnosis.checks, start=1):
        lines.append(f"{number:2}. [{check.verdict:^7}] {check.title}")
        lines += textwrap.wrap(
            check.evidence, 92, initial_indent="      ", subsequent_indent="      "
        )
        if check.fix and check.verdict in ("failed", "warning"):
            lines += textwrap.wrap(
                f"Fix: {check.fix}", 92, initial_indent="      ", subsequent_indent="      "
            )
        for step, text in enumerate(check.steps, start=1):
            lines += textwrap.wrap(
                text, 88, initial_indent=f"      {step}. ", subsequent_indent="         "
            )
    return "\n".join(lines)


def write_report(path: Path, profile: Profile, diagnosis: Diagnosis) -> None:
    """A text report for a support ticket: the diagnosis and the settings, secrets redacted."""
    settings = profile.settings.model_dump(mode="json", exclude_none=True)
    general = settings.get("exchange", {}).get("general", {})
    if "secret" in general:
        general["secret"] = f"{general['secret'].split(':')[0]}:(redacted)"
    made = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    text = "\n".join(
        [
            f"msext diagnosis report, {made}, profile {profile.name}",
            "",
            render(diagnosis),
            "",
            "Settings (secrets redacted):",
            _settings_text(settings),
        ]
    )
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(redactor.redact(text) + "\n")
    except OSError as error:
        raise UserError(f"cannot write the report to {path}: {error.strerror}") from None


def _settings_text(document: dict, prefix: str = "") -> str:
    lines = []
    for key, value in document.items():
        if isinstance(value, dict):
            lines.append(_settings_text(value, f"{prefix}{key}."))
        else:
            lines.append(f"  {prefix}{key} = {value}")
    return "\n".join(line for line in lines if line)

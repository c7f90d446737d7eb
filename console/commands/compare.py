"""``msext compare USER``: what the Outlook and the Exchange extension each do for one user."""

from __future__ import annotations

import argparse

from console.commands.output import emit, emit_json, paragraph, table
from engine.exchange.capabilities import Comparison
from engine.profile import Profile


def register(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="Outlook vs Exchange extension, side by side, for one user",
        description="USER is a PSA resource id, e-mail address or a unique part of the name.",
    )
    compare.add_argument("user")
    compare.add_argument("--json", action="store_true", help="print the matrix as JSON")
    compare.set_defaults(handler=compare_user)


def compare_user(args: argparse.Namespace, profile: Profile) -> int:
    comparison = profile.comparison(profile.find_user(args.user))
    if args.json:
        emit_json(comparison.as_dict())
    else:
        emit(render(comparison))
    return 0


def render(comparison: Comparison) -> str:
    user = comparison.user
    exchange = "enabled" if comparison.exchange_enabled else "not enabled"
    outlook = "installed" if comparison.outlook_installed else "not installed"
    lines = [
        f"{user.name} <{user.email}> (resource {user.resource_id})",
        f"MS Exchange extension: {exchange}   MS Outlook extension: {outlook}",
        "",
        table(
            ("Section", "Row", "MS Outlook", "MS Exchange"),
            [
                (
                    state.row.section,
                    state.row.label,
                    f"{state.outlook}: {state.outlook_detail}",
                    f"{state.exchange}: {state.exchange_detail}",
                )
                for state in comparison.rows
            ],
        ),
        "",
        *paragraph(
            "Outlook add-in actions (MS Outlook only): "
            + ", ".join(action for _, action, _ in comparison.actions)
        ),
        "",
        *paragraph(
            "Handled by: "
            + ", ".join(f"{item} {handler}" for item, handler in comparison.handlers.items())
        ),
    ]
    if not comparison.conflicts:
        lines += ["", "No conflicts."]
    for conflict in comparison.conflicts:
        lines += [
            "",
            *paragraph(f"[{conflict.severity}] {conflict.title} ({', '.join(conflict.rules)})"),
        ]
        lines += paragraph(conflict.detail, "  ", "  ")
        for number, step in enumerate(conflict.remedy, start=1):
            lines += paragraph(step, f"  {number}. ", "     ")
    return "\n".join(lines)

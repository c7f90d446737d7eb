"""``msext teams``: MS Teams channels, a test card, and the error log (issue 20).

``channels`` lists the channels as the Channels tab does; ``test CHANNEL`` posts a test card
through the outbox and says what came of it (exit 0 posted, 1 not); ``log`` shows the
newest failed posts. ``msext daemon`` delivers the outbox.
"""

from __future__ import annotations

import argparse
import time

from console.commands.output import emit, emit_json, table
from engine.errors import UserError
from engine.profile import Profile
from engine.settings.teams import TeamsChannel
from engine.teams.channels import masked, webhook_url
from engine.teams.trial import send_test_card

DAY_SECONDS = 24 * 3600


def register(commands: argparse._SubParsersAction) -> None:
    teams = commands.add_parser(
        "teams",
        help="MS Teams: the channels notifications are posted to, a test card, the error log",
        description="Notifications are posted to Teams channels through Power Automate"
        " Workflows webhooks; msext daemon delivers them.",
    )
    verbs = teams.add_subparsers(title="commands", metavar="COMMAND", required=True)
    channels = verbs.add_parser("channels", help="the channels: webhook, active, rules, posts")
    channels.add_argument("--json", action="store_true")
    channels.set_defaults(handler=list_channels)

    test = verbs.add_parser("test", help="post a test card to a channel and say what came of it")
    test.add_argument("channel", metavar="CHANNEL", help="channel id or name")
    test.set_defaults(handler=test_channel)

    log = verbs.add_parser("log", help="the error log: every failed post, newest first")
    log.add_argument("--limit", type=int, default=50, metavar="N", help="at most N lines (50)")
    log.add_argument("--json", action="store_true")
    log.set_defaults(handler=show_log)


def list_channels(args: argparse.Namespace, profile: Profile) -> int:
    teams = profile.settings.teams
    since = time.time() - DAY_SECONDS
    report = [
        {
            "channel": channel_id,
            "name": channel.name,
            "description": channel.description,
            "active": channel.active,
            "webhook": _webhook(profile, channel_id, channel),
            "active_rules": len(teams.rules_using(channel_id, active_only=True)),
            "posted_24h": profile.teams.sent_count(channel_id, since),
            "waiting": profile.teams.pending_count(channel_id),
        }
        for channel_id, channel in sorted(teams.channels.items())
    ]
    if args.json:
        emit_json(report)
        return 0
    if not report:
        emit("No Teams channel is set up (console: Admin > Microsoft Extensions > MS Teams).")
        return 0
    headers = ("Id", "Name", "Active", "Webhook", "Rules", "Posted 24 h", "Waiting")
    rows = [
        (
            str(row["channel"]),
            str(row["name"]),
            "yes" if row["active"] else "no",
            str(row["webhook"]),
            str(row["active_rules"]),
            str(row["posted_24h"]),
            str(row["waiting"]),
        )
        for row in report
    ]
    emit(table(headers, rows))
    return 0


def _webhook(profile: Profile, channel_id: int, channel: TeamsChannel) -> str:
    """Where the webhook goes, never its signature; what is wrong with it otherwise."""
    if channel.webhook is None:
        return "not set"
    try:
        return masked(webhook_url(channel_id, channel, profile.paths))
    except UserError as problem:
        return f"{channel.webhook}: {problem}"


def find_channel(profile: Profile, query: str) -> tuple[int, TeamsChannel]:
    """A channel by id or by name (any case)."""
    channels = profile.settings.teams.channels
    text = query.strip()
    if text.isdigit() and int(text) in channels:
        return int(text), channels[int(text)]
    named = [(key, value) for key, value in channels.items() if value.name.lower() == text.lower()]
    if len(named) == 1:
        return named[0]
    known = ", ".join(f"{key} ({value.name})" for key, value in sorted(channels.items()))
    raise UserError(f"no Teams channel {query!r}; channels: {known or 'none'}")


def test_channel(args: argparse.Namespace, profile: Profile) -> int:
    channel_id, channel = find_channel(profile, args.channel)
    result = send_test_card(profile.paths, profile.teams, channel_id, channel)
    if result.posted:
        emit(f"Test card posted to channel {channel_id} ({channel.name}).")
        return 0
    emit(f"Test card not posted to channel {channel_id} ({channel.name}): {result.reason}")
    return 1


def show_log(args: argparse.Namespace, profile: Profile) -> int:
    if args.limit < 1:
        raise UserError(f"--limit {args.limit}: give a number of lines, 1 or more")
    names = {key: value.name for key, value in profile.settings.teams.channels.items()}
    entries = profile.teams.errors(limit=args.limit)
    report = [
        {
            "at": entry.at.isoformat(),
            "channel": entry.channel_id,
            "name": names.get(entry.channel_id, ""),
            "status": entry.status,
            "reason": entry.reason,
        }
        for entry in entries
    ]
    if args.json:
        emit_json(report)
        return 0
    if not report:
        emit("No failed post.")
        return 0
    rows = [
        (
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{entry.channel_id} {names.get(entry.channel_id, '')}".strip(),
            str(entry.status or "-"),
            entry.reason,
        )
        for entry in entries
    ]
    emit(table(("Time (UTC)", "Channel", "Status", "Reason"), rows))
    return 0

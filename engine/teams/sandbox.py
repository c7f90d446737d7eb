"""The sandbox stands in for Teams: on a profile that runs the emulators, a channel's
webhook URL of the Workflows form (``.../workflows/<id>/triggers/manual/paths/invoke?...&
sig=...``) is served by a loopback Workflows peer, which keeps what it received in the
profile's ``workflows-sandbox.sqlite`` so that every process (the daemon, ``msext teams
test``, the console) sees the same channels' cards.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.sandbox.teams import Webhook, WorkflowsPeer
from engine.sandbox.teams.server import PATH
from engine.sandbox.teams.store import WorkflowsStore
from engine.settings.model import Settings
from engine.settings.teams import TeamsChannel
from engine.teams.channels import webhook_url


def _webhook(url: str, name: str) -> Webhook | None:
    """The sandbox webhook a URL of the Workflows form names, or ``None``."""
    parts = urlsplit(url)
    match = PATH.match(parts.path)
    signature = parse_qs(parts.query).get("sig", [""])[0]
    if match is None or not signature:
        return None
    return Webhook(match["id"], name, signature)


def channel_webhook(paths: ProfilePaths, channel_id: int, channel: TeamsChannel) -> Webhook | None:
    try:
        url = webhook_url(channel_id, channel, paths)
    except UserError:
        return None
    return _webhook(url, channel.name)


def register_webhooks(store: WorkflowsStore, paths: ProfilePaths, settings: Settings) -> None:
    """Every channel's webhook of the Workflows form, known to the sandbox."""
    for channel_id, channel in settings.teams.channels.items():
        webhook = channel_webhook(paths, channel_id, channel)
        if webhook is not None:
            store.add_webhook(webhook.name, webhook.id, webhook.signature)


def start_sandbox_webhooks(paths: ProfilePaths, settings: Settings) -> WorkflowsPeer:
    """A started Workflows peer serving the profile's channels' webhooks."""
    peer = WorkflowsPeer(paths.workflows_sandbox_db)
    register_webhooks(peer.store, paths, settings)
    peer.start()
    return peer


def through(peer: WorkflowsPeer, url: str, name: str) -> str:
    """The URL to post to: the peer's, for a webhook URL of the Workflows form (served
    from then on); any other URL as it is."""
    webhook = _webhook(url, name)
    if webhook is None:
        return url
    return peer.url(peer.add_webhook(webhook.name, webhook.id, webhook.signature))


def answer_next(
    paths: ProfilePaths, settings: Settings, channel_id: int, status: int, times: int | None = 1
) -> None:
    """Make a channel's sandbox webhook answer its next posts with ``status`` (the demo's
    channel whose workflow was removed: 410)."""
    store = WorkflowsStore(paths.workflows_sandbox_db)
    try:
        register_webhooks(store, paths, settings)
        webhook = channel_webhook(paths, channel_id, settings.teams.channels[channel_id])
        if webhook is None:
            raise UserError(f"channel {channel_id}'s webhook is not a Workflows URL")
        store.add_fault(webhook.id, status, times, None)
    finally:
        store.close()


def received_cards(
    paths: ProfilePaths, channel_id: int, channel: TeamsChannel, last: int = 5
) -> list[dict[str, Any]]:
    """The last cards a channel's sandbox webhook accepted, oldest first (the demo's
    console shows them)."""
    webhook = channel_webhook(paths, channel_id, channel)
    if webhook is None or not paths.workflows_sandbox_db.exists():
        return []
    store = WorkflowsStore(paths.workflows_sandbox_db)
    try:
        return [card for post in store.received(webhook.id) for card in post.cards][-last:]
    finally:
        store.close()

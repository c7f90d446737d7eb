"""A channel's webhook: its URL read from the secret it is kept in, shown only in part,
and the channel inactivated when Teams says the webhook is gone."""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.errors import UserError
from engine.net.origins import INSECURE_MESSAGE, is_encrypted_or_local
from engine.paths import ProfilePaths
from engine.settings.secrets import resolve_secret
from engine.settings.store import SettingsStore
from engine.settings.teams import TeamsChannel


def webhook_url(channel_id: int, channel: TeamsChannel, paths: ProfilePaths) -> str:
    """The Workflows webhook URL of a channel (registered for redaction: its signature is
    the secret); a :class:`UserError` that never repeats it."""
    if channel.webhook is None:
        raise UserError(
            f"channel {channel_id} has no webhook (teams.channels.{channel_id}.webhook)"
        )
    url = resolve_secret(channel.webhook, paths).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"the webhook of channel {channel_id} ({channel.webhook}) is not a URL")
    if not is_encrypted_or_local(url):
        raise UserError(
            f"the webhook of channel {channel_id} ({channel.webhook}) {INSECURE_MESSAGE}"
        )
    return url


def masked(url: str) -> str:
    """What may be shown of a webhook URL: where it goes, never its signature."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…"


def inactivate(store: SettingsStore, channel_id: int) -> None:
    """Mark the channel inactive in the settings, as the Channels tab shows it."""
    store.set_value(f"teams.channels.{channel_id}.active", "false")

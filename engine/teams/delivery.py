"""Delivery: the outbox's cards posted to their channels' Workflows webhooks.

Each channel's cards go in the order they were queued, at most about 4 posts a second to
its webhook (the pace Teams takes). A 429 waits for its Retry-After; a 5xx or a transport
failure backs off exponentially (capped at ten minutes) and tries again, each attempt
bounded by :class:`~engine.net.bounded_httpx.BoundedClient`'s deadline; a card not posted
within a day is given up. A 404 (channel not found) or 410 (workflow removed) inactivates
the channel at once: its cards wait in the outbox until an administrator activates it
again. Every failed post is a line of the error log.

Crashes: a Workflows webhook cannot deduplicate (it takes no idempotency key, and a
workflow cannot ask Teams what a channel already shows), so what a kill leaves is settled
by how far the POST went, each step committed: ``sending`` before the request, ``posted``
as soon as its body is out whole (httpcore's trace), ``sent`` on the webhook's 2xx. On
restart a ``sending`` card is posted again (the webhook cannot have taken a partial
request) and a ``posted`` one counts as sent (the webhook had it; the answer is all that
was missed). What is left open: a kill within the moment between the body's last byte
leaving and ``posted`` being committed (one SQLite commit, well under a millisecond) posts
the card twice; a kill after ``posted`` while the webhook, by chance, refused that very
post (a 429 or an outage) loses it. Both are logged. A transport failure while msext runs
(no answer, whatever was sent) is retried: there the webhook, not msext, failed.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from engine.errors import UserError
from engine.net.backoff import pause
from engine.net.bounded_httpx import Answer, BoundedClient
from engine.net.limits import MIB, HttpLimitError, HttpLimits
from engine.paths import ProfilePaths
from engine.run_lock import RunLock, SyncBusyError
from engine.settings.store import SettingsStore
from engine.settings.teams import TeamsChannel, TeamsSettings
from engine.teams.channels import inactivate, webhook_url
from engine.teams.sandbox import start_sandbox_webhooks, through
from engine.teams.state import OutboxItem, TeamsState

log = logging.getLogger(__name__)

POSTS_PER_SECOND = 4
POST_INTERVAL_SECONDS = 1 / POSTS_PER_SECOND
MAX_BACKOFF_SECONDS = 600.0
MAX_AGE_SECONDS = 24 * 3600
"""A card not posted within a day is stale: given up, with a line in the error log."""
POLL_SECONDS = 1.0
UNREADABLE_SETTINGS_PAUSE_SECONDS = 30.0
"""How long delivery waits before reading settings it could not read (or use) again."""
LIMITS = HttpLimits(
    deadline_seconds=30,
    max_response_bytes=MIB,
    deadline_setting="msext's fixed 30 s for a webhook post",
    size_setting="msext's fixed 1 MiB for a webhook's answer",
)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
GONE = {404: "the channel was not found (404)", 410: "the workflow was removed (410)"}


def message(card: dict[str, Any]) -> dict[str, Any]:
    """The body a Workflows webhook takes: a message with the card as its attachment."""
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


class Delivery:
    """Posts the outbox's due cards; one thread at a time."""

    def __init__(
        self,
        state: TeamsState,
        settings: Callable[[], TeamsSettings],
        resolve: Callable[[int, TeamsChannel], str],
        inactivate_channel: Callable[[int], None],
        client: BoundedClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._settings = settings
        self._resolve = resolve
        self._inactivate = inactivate_channel
        self._client = client or BoundedClient(LIMITS, connections=4)
        self._clock = clock
        self._on_close: list[Callable[[], None]] = []
        state.recover(clock())
        self._last_post = state.last_attempts()

    @classmethod
    def for_profile(cls, paths: ProfilePaths, state: TeamsState) -> Delivery:
        """Delivery as the profile's settings say, read again on every pass; on a profile
        that runs the emulators, through the sandbox's Workflows peer."""
        store = SettingsStore(paths)
        settings = store.load()
        peer = start_sandbox_webhooks(paths, settings) if settings.sandbox.enabled else None

        def resolve(channel_id: int, channel: TeamsChannel) -> str:
            url = webhook_url(channel_id, channel, paths)
            return url if peer is None else through(peer, url, channel.name)

        delivery = cls(
            state,
            settings=lambda: store.load().teams,
            resolve=resolve,
            inactivate_channel=lambda channel_id: inactivate(store, channel_id),
        )
        if peer is not None:
            delivery._on_close.append(peer.stop)
        return delivery

    def close(self) -> None:
        self._client.close()
        for close in self._on_close:
            close()

    def deliver_due(self) -> float | None:
        """Post every card due now, each channel's in order; the seconds until the next
        card is due (``None``: none waits on a time)."""
        while True:
            settings = self._settings()
            now = self._clock()
            wait: float | None = None
            progressed = False
            for item in self._state.heads():
                channel = settings.channels.get(item.channel_id)
                if channel is None:
                    reason = f"channel {item.channel_id} no longer exists; the card is dropped"
                    self._state.record_failure(item, None, reason, now, retry_at=None)
                    progressed = True
                elif not channel.active:
                    continue
                elif now - item.enqueued_at > MAX_AGE_SECONDS:
                    reason = "not posted within 24 hours; the card is given up"
                    self._state.record_failure(item, None, reason, now, retry_at=None)
                    progressed = True
                else:
                    ready = max(item.next_attempt_at, self._paced(item.channel_id))
                    if ready <= now:
                        self._post(item, channel)
                        progressed = True
                    else:
                        wait = min(wait if wait is not None else math.inf, ready - now)
            if not progressed:
                return wait

    def _paced(self, channel_id: int) -> float:
        return self._last_post.get(channel_id, -math.inf) + POST_INTERVAL_SECONDS

    def _post(self, item: OutboxItem, channel: TeamsChannel) -> None:
        now = self._clock()
        try:
            url = self._resolve(item.channel_id, channel)
        except UserError as problem:
            self._retry(item, None, str(problem), None)
            return
        self._state.mark_sending(item.id, now)
        self._last_post[item.channel_id] = now

        def sent_whole(event: str, _info: object) -> None:
            if event.endswith(".send_request_body.complete"):
                self._state.mark_posted(item.id)

        try:
            answer = self._client.request(
                "POST", url, json=message(item.card), extensions={"trace": sent_whole}
            )
        except (httpx.HTTPError, HttpLimitError) as failure:
            self._retry(item, None, _transport_reason(failure), None)
            return
        self._judge(item, answer)

    def _judge(self, item: OutboxItem, answer: Answer) -> None:
        status = answer.status_code
        now = self._clock()
        if 200 <= status < 300:
            self._state.mark_sent(item.id, now)
        elif status == 429:
            wait = pause(answer.headers.get("Retry-After"), 0)
            reason = f"throttled by the webhook (429); posting again in {wait:.0f} s"
            self._state.record_failure(item, status, reason, now, retry_at=now + wait)
        elif status in GONE:
            self._inactivate_channel(item.channel_id, status)
            reason = f"{GONE[status]}: the channel is inactivated; its cards wait"
            self._state.record_failure(item, status, reason, now, retry_at=now)
        elif status >= 500:
            self._retry(
                item, status, f"the webhook failed ({status})", answer.headers.get("Retry-After")
            )
        else:
            reason = f"refused ({status}): {_said(answer)}; the card is dropped"
            self._state.record_failure(item, status, reason, now, retry_at=None)

    def _retry(self, item: OutboxItem, status: int | None, reason: str, hint: str | None) -> None:
        now = self._clock()
        wait = min(MAX_BACKOFF_SECONDS, pause(hint, item.attempts))
        self._state.record_failure(
            item, status, f"{reason}; trying again in {wait:.0f} s", now, retry_at=now + wait
        )

    def _inactivate_channel(self, channel_id: int, status: int) -> None:
        log.warning("Teams channel %s inactivated: %s", channel_id, GONE[status])
        try:
            self._inactivate(channel_id)
        except UserError as problem:
            log.error("Teams channel %s could not be inactivated: %s", channel_id, problem)


def _transport_reason(failure: Exception) -> str:
    if isinstance(failure, HttpLimitError):
        return str(failure)
    return f"no answer from the webhook ({type(failure).__name__}: {failure})"


def _said(answer: Answer) -> str:
    """The webhook's own words (its ``error.message``), one line, bounded."""
    try:
        text = str(json.loads(answer.content)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        text = answer.content.decode("utf-8", "replace")
    return " ".join(text.split())[:300] or "no reason given"


def delivery_lock(paths: ProfilePaths) -> RunLock:
    """One deliverer per profile: two would post the same card."""
    return RunLock(paths, "teams-delivery", f"the Teams delivery of profile {paths.name}")


def serve_outbox(
    paths: ProfilePaths, stop: threading.Event, poll_seconds: float = POLL_SECONDS
) -> None:
    """Until ``stop``: deliver what is due, then wait for the next due card or a poll. Waits
    for the delivery lock first (a ``msext teams test`` may hold it for a moment)."""
    lock = delivery_lock(paths)
    while True:
        try:
            lock.acquire()
            break
        except SyncBusyError:
            if stop.wait(poll_seconds):
                return
    paths.ensure()
    state = TeamsState(paths.teams_db)
    delivery: Delivery | None = None
    try:
        while not stop.is_set():
            idle = poll_seconds
            try:
                delivery = delivery or Delivery.for_profile(paths, state)
                wait = delivery.deliver_due()
                idle = poll_seconds if wait is None else min(wait, poll_seconds)
            except UserError as problem:
                log.error("Teams delivery waits: %s", problem)
                idle = UNREADABLE_SETTINGS_PAUSE_SECONDS
            except Exception:
                log.exception("Teams delivery failed")
            stop.wait(idle)
    finally:
        if delivery is not None:
            delivery.close()
        state.close()
        lock.release()

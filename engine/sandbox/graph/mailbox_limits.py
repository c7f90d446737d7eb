"""Outlook's limits for each app and mailbox, drawn by every request for a mailbox (each of
a batch's alike): 10,000 requests in ten minutes, and four in flight at once. A request
over either is answered 429 with a Retry-After, as Graph answers it."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager

from engine.sandbox.graph.errors import GraphError, throttled

REQUESTS = 10_000
WINDOW_SECONDS = 600.0
CONCURRENT = 4
CONCURRENCY_RETRY_AFTER = 1


class MailboxLimits:
    def __init__(self) -> None:
        self.requests = REQUESTS
        self.window_seconds = WINDOW_SECONDS
        self._recent: dict[str, deque[float]] = {}
        self._in_flight: Counter[str] = Counter()
        self._held: set[str] = set()
        self._changed = threading.Condition()

    def limit(self, requests: int, seconds: float) -> None:
        with self._changed:
            self.requests, self.window_seconds = requests, seconds
            self._recent.clear()

    @contextmanager
    def serving(self, address: str) -> Iterator[None]:
        """Count the request against the mailbox while it is served; raises Graph's 429
        when it is over a limit (a throttled request is not counted)."""
        key = address.lower()
        with self._changed:
            if self._in_flight[key] >= CONCURRENT:
                raise throttled(CONCURRENCY_RETRY_AFTER, "MailboxConcurrency")
            over = self._over_rate(key)
            if over is not None:
                raise over
            self._in_flight[key] += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: key not in self._held)
        try:
            yield
        finally:
            with self._changed:
                self._in_flight[key] -= 1
                self._changed.notify_all()

    def _over_rate(self, key: str) -> GraphError | None:
        now = time.monotonic()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - self.window_seconds:
            recent.popleft()
        if len(recent) >= self.requests:
            retry_after = max(1, math.ceil(recent[0] + self.window_seconds - now))
            return throttled(retry_after, "MailboxRequests")
        recent.append(now)
        return None

    # -- for tests: requests kept in flight ---------------------------------------------

    def hold(self, address: str) -> None:
        """Keep the mailbox's requests in flight (counted, unanswered) until released."""
        with self._changed:
            self._held.add(address.lower())

    def release(self, address: str) -> None:
        with self._changed:
            self._held.discard(address.lower())
            self._changed.notify_all()

    def wait_in_flight(self, address: str, count: int, timeout: float = 10.0) -> bool:
        """Whether ``count`` requests for the mailbox are in flight within ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._in_flight[address.lower()] >= count, timeout
            )

"""A run's idle checks over Microsoft Graph, asked in JSON batches across mailboxes.

Most runs find nothing new: each synced folder's delta link answers an empty page. Asked one
mailbox at a time that is a request per folder per user; with application permissions one
``$batch`` carries 20 of them, whoever's mailbox they read, so 1,000 users' checks take
about 100 round trips. The answers are kept until each mailbox's pull takes its own (once):
an answer inside a batch is the answer the same GET would have had, so the pull handles it
alike. Batches go in parallel over the client's connections; a mailbox has at most its
folders' requests (two) in them, below Graph's four concurrent requests per mailbox.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from engine.exchange.mailbox.base import MailboxError
from engine.graph.http import BATCH_SIZE, UNANSWERED, GraphClient, GraphRequest, GraphResponse
from engine.settings.model import CALENDARS_PERMISSION as CALENDARS

log = logging.getLogger(__name__)
Ask = tuple[str, GraphRequest]
"""A mailbox address and one GET of its delta link."""
_Key = tuple[str, str, tuple[tuple[str, str], ...]]


class Prefetched:
    """First answers of a run's delta pulls, asked ahead; each is taken once."""

    def __init__(self) -> None:
        self._answers: dict[_Key, GraphResponse] = {}
        self._lock = threading.Lock()

    def fetch(self, client: GraphClient, asks: Sequence[Ask]) -> None:
        """Ask in batches of 20; the answers replace those of an earlier run. A batch that
        fails as a whole leaves its mailboxes to ask alone, as without it."""
        chunks = [asks[start : start + BATCH_SIZE] for start in range(0, len(asks), BATCH_SIZE)]
        answers: dict[_Key, GraphResponse] = {}
        workers = max(1, min(client.connections, len(chunks)))
        with ThreadPoolExecutor(workers, thread_name_prefix="msext-graph-batch") as pool:
            for chunk, found in zip(chunks, pool.map(partial(_ask, client), chunks), strict=True):
                for (address, request), answer in zip(chunk, found, strict=True):
                    if answer is not UNANSWERED:
                        answers[_key(address, request)] = answer
        with self._lock:
            self._answers = answers

    def take(self, address: str, request: GraphRequest) -> GraphResponse | None:
        """The answer asked ahead for exactly this request of this mailbox, if any."""
        with self._lock:
            return self._answers.pop(_key(address, request), None)


def _ask(client: GraphClient, chunk: Sequence[Ask]) -> list[GraphResponse]:
    """One batch's answers (throttled ones asked again after their Retry-After)."""
    try:
        return client.batch(
            [request for _, request in chunk], f"{len(chunk)} idle checks", CALENDARS
        )
    except MailboxError as error:
        log.info("a batch of idle checks failed, each mailbox asks alone: %s", error)
        return [UNANSWERED] * len(chunk)


def _key(address: str, request: GraphRequest) -> _Key:
    return address.lower(), request.url, tuple(sorted(request.headers.items()))

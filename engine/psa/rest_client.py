"""The PSA's REST API over httpx: zone discovery, authentication, queries, writes, limits.

The API allows 10,000 requests an hour per database, shared with every other integration,
and 3 concurrent requests per entity endpoint. One client holds the hour's budget and a
semaphore per entity; a 429 is honoured by waiting as long as the API asks (up to a limit),
never by hammering. The secret travels only in its header and is registered for redaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from engine.errors import UserError
from engine.redaction import redactor

log = logging.getLogger(__name__)

PAGE_SIZE = 500
HOURLY_LIMIT = 10_000
THREADS_PER_ENTITY = 3
Filter = list[dict[str, Any]]


class PsaRestError(UserError):
    """The PSA's REST API refused or failed; the message says why and what to do."""


class PsaNotFoundError(PsaRestError):
    """The API answered 404: the record (or entity) the request names does not exist."""


class PsaThrottledError(PsaRestError):
    """The API keeps answering 429 longer than one run may wait; the next run goes on."""


class RequestBudget:
    """Requests in the last hour, against the database's hourly limit."""

    def __init__(self, limit: int = HOURLY_LIMIT, clock: Any = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> None:
        now = self.clock()
        with self._lock:
            while self._sent and now - self._sent[0] >= 3600:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                raise PsaThrottledError(
                    f"the hourly budget of {self.limit:,} PSA API requests is used up;"
                    " the next run goes on"
                )
            self._sent.append(now)

    @property
    def used(self) -> int:
        now = self.clock()
        with self._lock:
            return sum(1 for sent in self._sent if now - sent < 3600)


def every(field: str = "id") -> Filter:
    """The filter that matches every record (the API wants at least one condition)."""
    return [{"op": "gte", "field": field, "value": 0}]


class PsaRestClient:
    """One API user's connection; thread-safe."""

    def __init__(
        self,
        zone_url: str,
        username: str,
        secret: str,
        integration_code: str,
        timeout: float = 30.0,
        max_wait: float = 60.0,
        budget: RequestBudget | None = None,
    ) -> None:
        redactor.register(secret)
        self.max_wait = max_wait
        self.budget = budget or RequestBudget()
        self.requests = 0
        self._slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(THREADS_PER_ENTITY)
        )
        self._http = httpx.Client(
            timeout=timeout,
            headers={
                "ApiIntegrationCode": integration_code,
                "UserName": username,
                "Secret": secret,
                "Content-Type": "application/json",
            },
        )
        self.base = self._discover(zone_url, username)

    def close(self) -> None:
        self._http.close()

    # -- the API ---------------------------------------------------------------------------

    def query(
        self, entity: str, filters: Filter, fields: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, page by page (500 a page, following ``nextPageUrl``)."""
        body: dict[str, Any] = {"MaxRecords": PAGE_SIZE, "Filter": filters}
        if fields:
            body["IncludeFields"] = sorted({"id", *fields})
        answer = self._call(entity, "POST", f"{self.base}/{entity}/query", body)
        while True:
            yield from answer.get("items") or []
            following = (answer.get("pageDetails") or {}).get("nextPageUrl")
            if not following:
                return
            answer = self._call(entity, "GET", following)

    def count(self, entity: str, filters: Filter) -> int:
        answer = self._call(
            entity, "POST", f"{self.base}/{entity}/query/count", {"Filter": filters}
        )
        return int(answer["queryCount"])

    def create(self, entity: str, item: dict[str, Any]) -> int:
        return int(self._call(entity, "POST", f"{self.base}/{entity}", item)["itemId"])

    def update(self, entity: str, item: dict[str, Any]) -> int:
        return int(self._call(entity, "PATCH", f"{self.base}/{entity}", item)["itemId"])

    def delete(self, entity: str, record_id: int) -> None:
        self._call(entity, "DELETE", f"{self.base}/{entity}/{record_id}")

    # -- plumbing --------------------------------------------------------------------------

    def _discover(self, zone_url: str, username: str) -> str:
        """The zone's base URL with its version (ZoneInformation returns it without one)."""
        url = f"{zone_url.rstrip('/')}/V1.0/ZoneInformation"
        try:
            answer = self._http.get(url, params={"user": username})
        except httpx.HTTPError as error:
            raise PsaRestError(
                f"the PSA's REST API does not answer at {zone_url}: {error}"
            ) from None
        if answer.status_code != 200:
            raise PsaRestError(
                f"zone discovery for {username} failed at {zone_url}: HTTP {answer.status_code}"
                f" {_errors(answer)}"
            )
        zone = {key.lower(): value for key, value in answer.json().items()}
        return f"{str(zone['url']).rstrip('/')}/v1.0"

    def _call(
        self, entity: str, method: str, url: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        waited = 0.0
        with self._slots[entity]:
            while True:
                self.budget.take()
                self.requests += 1
                try:
                    answer = self._http.request(method, url, json=body)
                except httpx.HTTPError as error:
                    raise PsaRestError(f"the PSA's REST API failed on {entity}: {error}") from None
                if answer.status_code == 429:
                    pause = _retry_after(answer)
                    if waited + pause > self.max_wait:
                        raise PsaThrottledError(
                            f"the PSA's REST API is throttling {entity} requests"
                            f" ({_errors(answer)}); the next run goes on"
                        )
                    log.info("PSA API asked to wait %.1f s on %s", pause, entity)
                    time.sleep(pause)
                    waited += pause
                    continue
                if answer.status_code == 401:
                    raise PsaRestError(
                        "the PSA refused the API user: check the user name, the secret and the"
                        " integration code (PSA connection settings)"
                    )
                if answer.status_code >= 400:
                    error = PsaNotFoundError if answer.status_code == 404 else PsaRestError
                    raise error(
                        f"the PSA's REST API answered HTTP {answer.status_code} on {entity}:"
                        f" {_errors(answer)}"
                    )
                return answer.json()


def _retry_after(answer: httpx.Response) -> float:
    try:
        return max(0.0, float(answer.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _errors(answer: httpx.Response) -> str:
    try:
        errors = answer.json().get("errors") or []
    except ValueError:
        return answer.text[:200]
    return "; ".join(str(error) for error in errors)[:300]

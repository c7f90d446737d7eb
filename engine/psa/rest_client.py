"""The PSA's REST API over httpx: zone discovery, authentication, queries, writes, limits.

The API allows 10,000 requests an hour per database, shared with every other integration,
and 3 concurrent requests per entity endpoint. msext keeps its share of the hour in a
budget every process of the profile draws on, and a semaphore per entity; a 429 is waited
out with back-off (at least as long as the API asks, up to a limit), never by hammering.
The secret travels only in its header, only over https (or to this machine), only to the
configured server's zone, and is registered for redaction.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from engine.errors import UserError
from engine.net import backoff
from engine.net.bounded_httpx import Answer, BoundedClient
from engine.net.limits import HttpLimitError, HttpLimits
from engine.net.origins import (
    ForeignLinkError,
    is_ip_address,
    origin,
    require_encrypted,
    require_same_origin,
)
from engine.redaction import redactor

log = logging.getLogger(__name__)

PAGE_SIZE = 500
HOURLY_LIMIT = 10_000
THREADS_PER_ENTITY = 3
Filter = list[dict[str, Any]]
Parent = tuple[str, int]
"""A child entity's parent: (entity, id), e.g. ("Companies", 12) for its Contacts."""


class PsaRestError(UserError):
    """The PSA's REST API refused or failed; the message says why and what to do."""


class PsaNotFoundError(PsaRestError):
    """The API answered 404: the record (or entity) the request names does not exist."""


class PsaThrottledError(PsaRestError):
    """The API keeps answering 429 longer than one run may wait; the next run goes on."""


def private_db(path: Path | None) -> sqlite3.Connection:
    """A small SQLite file only this user may read (in memory without a path), shared by
    the profile's processes (WAL); autocommit, for explicit transactions."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(
        str(path or ":memory:"), check_same_thread=False, isolation_level=None, timeout=30
    )
    if path is not None:
        path.chmod(0o600)
        db.execute("PRAGMA journal_mode=WAL")
    return db


class RequestBudget:
    """Requests sent in the last hour, against msext's hourly share of the database's limit.

    With a ``path`` the requests are counted in a small SQLite file, so that every process
    of a profile (the daemon, ``msext sync``, the console) draws on one budget; without one,
    in memory.
    """

    WINDOW_SECONDS = 3600.0

    def __init__(
        self,
        limit: int = HOURLY_LIMIT,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.clock = clock
        self._db = private_db(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS sent (at REAL NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS sent_at ON sent (at)")
        self._lock = threading.Lock()

    def take(self) -> None:
        """Count one request, or :class:`PsaThrottledError` when the hour's share is spent."""
        now = self.clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                used = self._count(now)
                if used >= self.limit:
                    raise PsaThrottledError(
                        f"the hourly budget of {self.limit:,} PSA API requests is used up"
                        " (psa.rest_requests_per_hour); the next run goes on"
                    )
                self._db.execute("INSERT INTO sent VALUES (?)", (now,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def used(self) -> int:
        with self._lock:
            return self._count(self.clock())

    def _count(self, now: float) -> int:
        self._db.execute("DELETE FROM sent WHERE at <= ?", (now - self.WINDOW_SECONDS,))
        return int(self._db.execute("SELECT count(*) FROM sent").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def iso(moment: datetime) -> str:
    """A time as the API writes it: UTC, milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


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
        limits: HttpLimits | None = None,
        max_wait: float = 60.0,
        budget: RequestBudget | None = None,
    ) -> None:
        redactor.register(secret)
        require_encrypted(zone_url, "the PSA's REST API URL")
        self.max_wait = max_wait
        self.budget = budget or RequestBudget()
        self.requests = 0
        self._slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(THREADS_PER_ENTITY)
        )
        self._http = BoundedClient(
            limits or HttpLimits(30.0),
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
        self.budget.close()

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
            require_same_origin(following, self.base, f"the next page of {entity}")
            answer = self._call(entity, "GET", following)

    def count(self, entity: str, filters: Filter) -> int:
        answer = self._call(
            entity, "POST", f"{self.base}/{entity}/query/count", {"Filter": filters}
        )
        return int(answer["queryCount"])

    def field_information(self, entity: str) -> list[dict[str, Any]]:
        """The entity's fields, picklists with their values (``entityInformation/fields``)."""
        url = f"{self.base}/{entity}/entityInformation/fields"
        return list(self._call(entity, "GET", url).get("fields") or [])

    def create(self, entity: str, item: dict[str, Any], parent: Parent | None = None) -> int:
        """A new record; a child entity's (Contacts of Companies) under its ``parent``."""
        return int(self._call(entity, "POST", self._url(entity, parent), item)["itemId"])

    def update(self, entity: str, item: dict[str, Any], parent: Parent | None = None) -> int:
        """PATCH: the fields ``item`` names, of the record its ``id`` names."""
        return int(self._call(entity, "PATCH", self._url(entity, parent), item)["itemId"])

    def _url(self, entity: str, parent: Parent | None) -> str:
        if parent is None:
            return f"{self.base}/{entity}"
        parent_entity, parent_id = parent
        return f"{self.base}/{parent_entity}/{parent_id}/{entity}"

    def delete(self, entity: str, record_id: int) -> None:
        self._call(entity, "DELETE", f"{self.base}/{entity}/{record_id}")

    # -- plumbing --------------------------------------------------------------------------

    def _discover(self, zone_url: str, username: str) -> str:
        """The zone's base URL with its version (ZoneInformation returns it without one)."""
        url = f"{zone_url.rstrip('/')}/V1.0/ZoneInformation"
        try:
            answer = self._http.request("GET", url, params={"user": username})
        except (httpx.HTTPError, HttpLimitError) as error:
            raise PsaRestError(
                f"the PSA's REST API does not answer at {zone_url}: {error}"
            ) from None
        if answer.status_code != 200:
            raise PsaRestError(
                f"zone discovery for {username} failed at {zone_url}: HTTP {answer.status_code}"
                f" {_errors(answer)}"
            )
        zone = {key.lower(): value for key, value in _json(answer).items()}
        base = f"{str(zone['url']).rstrip('/')}/v1.0"
        require_zone_of(base, zone_url)
        return base

    def _call(
        self, entity: str, method: str, url: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        waited = 0.0
        with self._slots[entity]:
            attempt = 0
            while True:
                self.budget.take()
                self.requests += 1
                try:
                    answer = self._http.request(method, url, json=body)
                except (httpx.HTTPError, HttpLimitError) as error:
                    raise PsaRestError(f"the PSA's REST API failed on {entity}: {error}") from None
                if answer.status_code == 429:
                    pause = backoff.pause(answer.headers.get("Retry-After"), attempt)
                    if waited + pause > self.max_wait:
                        raise PsaThrottledError(
                            f"the PSA's REST API is throttling {entity} requests"
                            f" ({_errors(answer)}); the next run goes on"
                        )
                    log.info("PSA API asked to wait; waiting %.1f s on %s", pause, entity)
                    time.sleep(pause)
                    waited += pause
                    attempt += 1
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
                return _json(answer)


def require_zone_of(zone: str, configured: str) -> None:
    """The zone the API names must be the configured server, or a host of its domain (the
    PSA serves each database from a host of its own, e.g. webservices15.example.com for
    webservices.example.com) with the same scheme and port: the API secret goes there."""
    if origin(zone) == origin(configured):
        return
    scheme, host, port = origin(zone)
    own_scheme, own_host, own_port = origin(configured)
    domain = own_host.partition(".")[2]
    if (
        (scheme, port) != (own_scheme, own_port)
        or is_ip_address(own_host)
        or "." not in domain
        or not host.endswith("." + domain)
    ):
        raise ForeignLinkError(
            f"the PSA's zone {zone} is outside {configured}'s server and domain: msext sends"
            " the API secret nowhere else and refused it"
        )


def _json(answer: Answer) -> Any:
    try:
        return json.loads(answer.content)
    except ValueError:
        raise PsaRestError(
            f"the PSA's REST API answered HTTP {answer.status_code} with something that is not JSON"
        ) from None


def _errors(answer: Answer) -> str:
    try:
        errors = json.loads(answer.content).get("errors") or []
    except (ValueError, AttributeError):
        return answer.content[:200].decode("utf-8", "replace")
    return "; ".join(str(error) for error in errors)[:300]

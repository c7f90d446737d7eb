"""The HTTP side of the PSA REST peer: zone discovery, authentication, queries, writes, limits.

Answers in the API's own JSON shapes (``zoneInformation`` fields, ``items`` with
``pageDetails``, ``item``, ``itemId``, ``queryCount``, ``errors``). What it does not
implement it refuses with an ``errors`` message that names it, never a silent success.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from engine.psa.embedded import EmbeddedPsa, to_epoch
from engine.psa.model import RecordKind
from engine.sandbox.http import PromptHandler, send_json
from engine.sandbox.psa_rest.contacts import write_contact
from engine.sandbox.psa_rest.entities import FIELDS, PICKLISTS, READERS, Item, field_information
from engine.sandbox.psa_rest.errors import ApiError
from engine.sandbox.psa_rest.query import QueryError, api_datetime, lower_keys, matcher

log = logging.getLogger(__name__)

PREFIX = "/atservicesrest/"
VERSION = "v1.0"
PAGE_SIZE = 500
THREADS_PER_ENTITY = 3
ENTITIES = {name.lower(): name for name in READERS}


@dataclass
class ApiUser:
    username: str
    secret: str
    integration_code: str


@dataclass
class PeerState:
    """What the handler threads share: the data, the API user, limits and counters."""

    psa: EmbeddedPsa
    user: ApiUser
    hourly_limit: int = 10_000
    requests: int = 0
    throttled: int = 0
    throttle_next: int = 0
    throttle_after: int = 0
    retry_after: float = 1.0
    hidden: frozenset[str] = frozenset()
    """Entities the API user may not read: their queries answer with no items."""
    vanish_next: int = 0
    by_entity: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_flight: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, tuple[str, list[Item]]] = field(default_factory=dict)

    def items(self, entity: str) -> list[Item]:
        """An entity's records, read again only after the PSA changed (its change cursor)."""
        version = self.psa.cursor()
        with self.lock:
            cached = self.cache.get(entity)
        if cached and cached[0] == version:
            return cached[1]
        items = READERS[entity](self.psa)
        with self.lock:
            self.cache[entity] = (version, items)
        return items

    def draw_vanish(self) -> bool:
        """Whether this write's record is to be deleted just before it (see ``vanish``)."""
        with self.lock:
            if self.vanish_next:
                self.vanish_next -= 1
                return True
            return False


class Handler(PromptHandler):
    server: PeerHttpServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("psa-rest %s", format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        given = [part for part in url.path.split("/") if part]
        if given and given[0].lower() == PREFIX.strip("/"):
            given = given[1:]
        parts = [part.lower() for part in given]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if parts[:2] == [VERSION, "zoneinformation"] and method == "GET":
                self._reply(200, self._zone(parse_qs(url.query).get("user", [""])[0]))
                return
            if not parts or parts[0] != VERSION:
                raise ApiError(404, f"Not found: {url.path}")
            self._authenticate()
            entity = ENTITIES.get(parts[1]) if len(parts) > 1 else None
            if entity is None:
                raise ApiError(404, f"Unknown entity: {given[1] if len(given) > 1 else ''}")
            with self._slot(entity):
                body = lower_keys(json.loads(raw)) if raw else {}
                self._reply(200, self._route(method, entity, parts[2:], url.query, body))
        except ApiError as error:
            self._reply(error.status, {"errors": [str(error)]}, **error.headers)
        except (json.JSONDecodeError, QueryError, ValueError, KeyError) as error:
            self._reply(400, {"errors": [str(error)]})

    def _reply(self, status: int, payload: dict[str, Any], **headers: str) -> None:
        send_json(self, status, payload, **headers)

    def _zone(self, user: str) -> dict[str, Any]:
        if not user:
            raise ApiError(400, "ZoneInformation needs ?user=API user name")
        base = self.server.base_url
        return {"zoneName": "msext sandbox", "url": f"{base}{PREFIX}", "webUrl": base, "ci": 1}

    def _authenticate(self) -> None:
        user = self.server.state.user
        given = (
            self.headers.get("UserName"),
            self.headers.get("Secret"),
            self.headers.get("ApiIntegrationCode"),
        )
        if given != (user.username, user.secret, user.integration_code):
            raise ApiError(401, "Unauthorized: user name, secret or integration code is wrong")

    def _slot(self, entity: str) -> _Slot:
        return _Slot(self.server.state, entity)

    # -- the API ---------------------------------------------------------------------------

    def _route(
        self, method: str, entity: str, rest: list[str], query: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if rest[:1] == ["query"]:
            params = parse_qs(query)
            search = params.get("search", [""])[0]
            request = lower_keys(json.loads(search)) if search else body
            if rest[1:] == ["count"]:
                return {"queryCount": len(self._select(entity, request))}
            if rest[1:] == ["next"]:
                return self._page(entity, search, request, _cursor(params))
            if rest[1:]:
                raise ApiError(404, f"Not found: {entity}/query/{'/'.join(rest[1:])}")
            return self._page(entity, json.dumps(request), request, 0)
        if method == "GET" and rest == ["entityinformation", "fields"]:
            if entity not in PICKLISTS:
                raise ApiError(405, f"{entity}/entityInformation/fields is not implemented")
            return {"fields": field_information(entity)}
        if method == "GET" and len(rest) == 1 and rest[0].isdigit():
            found = [i for i in self.server.state.items(entity) if i["id"] == int(rest[0])]
            if not found:
                raise ApiError(404, f"{entity} {rest[0]} does not exist")
            return {"item": found[0]}
        return self._write(method, entity, rest, body)

    def _select(self, entity: str, request: dict[str, Any]) -> list[Item]:
        if entity in self.server.state.hidden:
            return []
        items = self.server.state.items(entity)
        known = items[0] if items else FIELDS.get(entity)
        fields = {key.lower() for key in known or ()}
        test = matcher(request.get("filter") or [], fields) if known else (lambda _: True)
        return [item for item in items if test({k.lower(): v for k, v in item.items()})]

    def _page(
        self, entity: str, search: str, request: dict[str, Any], after: int
    ) -> dict[str, Any]:
        """The page of records after id ``after``; the next page's URL carries the same
        search and a cursor of its own, so its length never grows with the pages."""
        size = max(1, min(int(request.get("maxrecords") or PAGE_SIZE), PAGE_SIZE))
        found = [item for item in self._select(entity, request) if item["id"] > after]
        wanted = [str(name).lower() for name in request.get("includefields") or []]
        if wanted and "id" not in wanted and len(found) > size:
            raise ApiError(
                400, "IncludeFields must contain id when a query returns more than one page"
            )
        page = found[:size]
        next_url = None
        if len(found) > size:
            paging = json.dumps({"pageSize": size, "lastId": page[-1]["id"]})
            next_url = (
                f"{self.server.base_url}{PREFIX}{VERSION}/{entity}/query/next"
                f"?paging={quote(paging)}&search={quote(search)}"
            )
        if wanted:
            page = [{k: v for k, v in item.items() if k.lower() in wanted} for item in page]
        return {
            "items": page,
            "pageDetails": {
                "count": len(page),
                "requestCount": size,
                "prevPageUrl": None,
                "nextPageUrl": next_url,
            },
        }

    def _write(
        self, method: str, entity: str, rest: list[str], body: dict[str, Any]
    ) -> dict[str, Any]:
        """Creating, updating (PATCH: the given fields; PUT: all of them) and deleting
        appointments, and moving to-dos; a record that is gone is a 404, never a 200."""
        state = self.server.state
        psa = state.psa
        if entity == "Appointments" and method == "POST" and not rest:
            columns = _columns(RecordKind.APPOINTMENT, body, every_field=True)
            record_id = psa.insert("appointments", resource_id=int(body["resourceid"]), **columns)
            return {"itemId": record_id}
        if entity in ("Appointments", "CompanyToDos") and method in ("PATCH", "PUT") and not rest:
            kind = RecordKind.APPOINTMENT if entity == "Appointments" else RecordKind.TODO
            columns = _columns(kind, body, every_field=method == "PUT")
            if not columns:
                raise ApiError(400, f"Nothing to update in {entity} {body.get('id')}")
            record_id = int(body["id"])
            if state.draw_vanish():
                psa.delete(kind, record_id)
            if not psa.update(kind, record_id, **columns):
                raise ApiError(404, f"{entity} {record_id} does not exist")
            return {"itemId": record_id}
        if entity == "Appointments" and method == "DELETE" and len(rest) == 1:
            record_id = int(rest[0])
            if state.draw_vanish():
                psa.delete(RecordKind.APPOINTMENT, record_id)
            if not psa.delete(RecordKind.APPOINTMENT, record_id):
                raise ApiError(404, f"{entity} {record_id} does not exist")
            return {"itemId": record_id}
        if entity == "Companies" and len(rest) == 2 and rest[1] == "contacts":
            return write_contact(state, method, _id(rest[0]), body)
        if entity == "Contacts" and method in ("POST", "PATCH", "PUT") and not rest:
            raise ApiError(
                405, "Contacts are written under their company: Companies/{companyID}/Contacts"
            )
        path = "/".join([entity, *rest])
        raise ApiError(405, f"{method} {path} is not implemented by this peer")


_WRITABLE = {
    RecordKind.APPOINTMENT: {
        "title": "title",
        "description": "description",
        "startdatetime": "start",
        "enddatetime": "end",
    },
    RecordKind.TODO: {"startdatetime": "start", "enddatetime": "end"},
}
_TIMES = ("start", "end")


def _columns(kind: RecordKind, body: dict[str, Any], every_field: bool) -> dict[str, Any]:
    """The record's columns a write sets; ``every_field`` (POST, PUT) sets the omitted
    ones to empty, and refuses to go without a start and an end."""
    columns = {}
    for name, column in _WRITABLE[kind].items():
        value = body.get(name)
        if column in _TIMES and value is None and every_field:
            raise ApiError(400, f"The field {name} is required")
        if column in _TIMES and value is not None:
            columns[column] = to_epoch(api_datetime(str(value)))
        elif name in body or every_field:
            columns[column] = "" if value is None else str(value)
    return columns


def _id(text: str) -> int:
    if not text.isdigit():
        raise ApiError(404, f"Not found: Companies/{text}")
    return int(text)


def _cursor(params: dict[str, list[str]]) -> int:
    """The last id of the page before, from a next-page URL's ``paging``."""
    try:
        return int(json.loads(params["paging"][0])["lastId"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ApiError(
            400, "The paging parameter of a next-page URL is missing or malformed"
        ) from None


class _Slot:
    """Counts a request against the hour's budget and the entity's concurrent threads."""

    def __init__(self, state: PeerState, entity: str) -> None:
        self.state = state
        self.entity = entity

    def __enter__(self) -> None:
        state = self.state
        with state.lock:
            state.requests += 1
            state.by_entity[self.entity] += 1
            if state.throttle_after:
                state.throttle_after -= 1
            elif state.throttle_next:
                state.throttle_next -= 1
                state.throttled += 1
                raise ApiError(
                    429, "Too many requests: try again later", Retry_After=f"{state.retry_after:g}"
                )
            if state.requests > state.hourly_limit:
                state.throttled += 1
                raise ApiError(
                    429, "The hourly request limit of this database is used up", Retry_After="3600"
                )
            if state.in_flight[self.entity] >= THREADS_PER_ENTITY:
                state.throttled += 1
                raise ApiError(
                    429,
                    f"More than {THREADS_PER_ENTITY} concurrent requests on {self.entity}",
                    Retry_After="1",
                )
            state.in_flight[self.entity] += 1

    def __exit__(self, *_: object) -> None:
        with self.state.lock:
            self.state.in_flight[self.entity] -= 1


class PeerHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: PeerState) -> None:
        super().__init__(address, Handler)
        self.state = state
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"

"""JSON batching: up to 20 requests in one POST /$batch, each routed like a top-level one
(authenticated by the outer request, throttled one by one, a mailbox's limits drawn by each
request for it), answered in order. Their URLs are relative to the version, as Graph
requires: an absolute one (which SDK batch builders send unless told) refuses the batch."""

from __future__ import annotations

from typing import Any

from engine.sandbox.graph.errors import GraphError, bad_request, not_implemented
from engine.sandbox.graph.request import Reply, Request, refusal
from engine.sandbox.graph.routes import dispatch, user_of
from engine.sandbox.graph.state import PeerState

MAX_REQUESTS = 20
_WRITES = ("POST", "PATCH", "PUT")


def requests_of(request: Request) -> list[dict[str, Any]]:
    """The batch's sub-requests, checked as Graph checks them before running any."""
    request.options(())
    entries = request.json_object().get("requests")
    if not isinstance(entries, list) or not entries:
        raise bad_request("A $batch needs a non-empty 'requests' list.")
    if len(entries) > MAX_REQUESTS:
        raise bad_request(
            f"A $batch holds at most {MAX_REQUESTS} requests; this one holds {len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        if (
            not isinstance(entry, dict)
            or not all(isinstance(entry.get(key), str) for key in ("id", "method", "url"))
            or not isinstance(entry.get("headers") or {}, dict)
            or not isinstance(entry.get("dependsOn") or [], list)
        ):
            raise bad_request(
                "Each request of a $batch needs a string id, method and url (and may have"
                " a headers object and a dependsOn list)."
            )
        if "://" in entry["url"]:
            raise bad_request("Invalid batch payload format.")
        if entry["id"] in seen:
            raise bad_request(f"The $batch request id '{entry['id']}' is not unique.")
        if any(dependency not in seen for dependency in entry.get("dependsOn") or []):
            raise bad_request(f"Request id {entry['id']} depends on a request not before it.")
        headers = {name.lower() for name in entry.get("headers") or {}}
        if entry["method"].upper() in _WRITES and (
            "body" not in entry or "content-type" not in headers
        ):
            raise bad_request(
                f"Write request id : {entry['id']} does not contain Content-Type header or body."
            )
        seen.add(entry["id"])
    return entries


def first_mailbox(body: Any) -> str:
    """The mailbox of a batch's first sub-request, which the counters attribute it to."""
    entries = body.get("requests") if isinstance(body, dict) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    if not isinstance(first, dict) or not isinstance(first.get("url"), str):
        return ""
    try:
        return user_of(Request.parse("GET", _target(first["url"]), (), None))
    except GraphError:
        return ""


def run(state: PeerState, roles: frozenset[str], entries: list[dict[str, Any]]) -> Reply:
    statuses: dict[str, int] = {}
    responses = []
    for entry in entries:
        failed = any(statuses[dependency] >= 400 for dependency in entry.get("dependsOn") or [])
        reply = (
            refusal(GraphError(424, "FailedDependency", "A request it depends on failed."))
            if failed
            else _answer(state, roles, entry)
        )
        statuses[entry["id"]] = reply.status
        answer: dict[str, Any] = {"id": entry["id"], "status": reply.status}
        headers = dict(reply.headers)
        if reply.body is not None:
            headers["Content-Type"] = "application/json"
            answer["body"] = reply.body
        answer["headers"] = headers
        responses.append(answer)
    return Reply(200, {"responses": responses})


def _answer(state: PeerState, roles: frozenset[str], entry: dict[str, Any]) -> Reply:
    try:
        request = _sub_request(entry)
    except GraphError as error:
        return refusal(error)
    if request.segments[:1] == ["$batch"]:
        return refusal(not_implemented("a $batch inside a $batch"))
    return dispatch(state, roles, request)


def _sub_request(entry: dict[str, Any]) -> Request:
    headers = (entry.get("headers") or {}).items()
    return Request.parse(entry["method"], _target(entry["url"]), headers, entry.get("body"))


def _target(url: str) -> str:
    """A sub-request's URL relative to the version, with or without its leading slash."""
    return "/" + url.lstrip("/")

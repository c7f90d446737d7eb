"""The route table, and what every routed request passes first: throttling (or an injected
failure), for a mailbox's routes the user and the application access policy, then the
route's application permission."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from engine.sandbox.ews.items import UnsupportedError
from engine.sandbox.graph import delta, directory, items
from engine.sandbox.graph import subscription_routes as subscriptions
from engine.sandbox.graph.errors import (
    GraphError,
    directory_denied,
    invalid_user,
    not_implemented,
    policy_denied,
    role_denied,
    throttled,
)
from engine.sandbox.graph.request import Call, Reply, Request, refusal
from engine.sandbox.graph.state import PeerState
from engine.sandbox.graph.zones import in_zone, preferred_zone
from engine.settings.adsync import GRAPH_GROUP_PERMISSION as GROUP_MEMBERS
from engine.settings.adsync import GRAPH_USER_PERMISSION as USERS
from engine.settings.model import CALENDARS_PERMISSION as CALENDARS
from engine.settings.model import CONTACTS_PERMISSION as CONTACTS
from engine.settings.model import MAIL_SEND_PERMISSION as MAIL_SEND

log = logging.getLogger(__name__)
INTERNAL_ERROR = {"error": {"code": "InternalServerError", "message": "The emulator failed."}}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    """Literal segments (matched case-insensitively; a function's also in its call form,
    ``delta()``, as Graph accepts both and the SDK sends that one), ``{user}`` (a mailbox),
    ``{id}`` and other parameters."""
    operation: str
    role: str
    """The least privileged application permission the route needs (roles above it do);
    "" when it depends on the request (a subscription's resource)."""
    handler: Callable[[Call], Reply]
    denial: Callable[[], GraphError] = role_denied
    """Graph's refusal of a token without the role (Exchange's and the directory's differ)."""


def _item_routes(collection: str, kind: items.Kind, role: str) -> tuple[Route, ...]:
    item = ("users", "{user}", collection, "{id}")
    return (
        Route("POST", item[:3], f"{collection}.create", role, partial(items.create_item, kind)),
        Route("GET", item, f"{collection}.get", role, partial(items.get_item, kind)),
        Route("PATCH", item, f"{collection}.update", role, partial(items.update_item, kind)),
        Route("DELETE", item, f"{collection}.delete", role, partial(items.delete_item, kind)),
    )


ROUTES = (
    Route("GET", ("users", "{user}", "calendar"), "calendar", CALENDARS, items.get_calendar),
    Route(
        "GET",
        ("users", "{user}", "calendarview", "delta"),
        "calendarView.delta",
        CALENDARS,
        delta.calendar_delta,
    ),
    Route(
        "GET",
        ("users", "{user}", "contacts", "delta"),
        "contacts.delta",
        CONTACTS,
        delta.contacts_delta,
    ),
    *_item_routes("events", items.EVENT, CALENDARS),
    *_item_routes("contacts", items.CONTACT, CONTACTS),
    Route("POST", ("users", "{user}", "sendmail"), "sendMail", MAIL_SEND, items.send_mail),
    Route("POST", ("subscriptions",), "subscriptions.create", "", subscriptions.create),
    Route("GET", ("subscriptions",), "subscriptions.list", "", subscriptions.list_all),
    Route("GET", ("subscriptions", "{id}"), "subscriptions.get", "", subscriptions.get),
    Route("PATCH", ("subscriptions", "{id}"), "subscriptions.update", "", subscriptions.update),
    Route("DELETE", ("subscriptions", "{id}"), "subscriptions.delete", "", subscriptions.delete),
    *(
        Route("GET", pattern, operation, role, handler, directory_denied)
        for pattern, operation, role, handler in (
            (("users",), "users.list", USERS, directory.list_users),
            (("users", "{id}"), "users.get", USERS, directory.get_user),
            (("groups", "{id}"), "groups.get", GROUP_MEMBERS, directory.get_group),
            (("groups", "{id}", "members"), "members", GROUP_MEMBERS, directory.direct_members),
            (
                ("groups", "{id}", "transitivemembers"),
                "transitiveMembers",
                GROUP_MEMBERS,
                directory.transitive_members,
            ),
            (
                ("groups", "{id}", "transitivemembers", "{cast}"),
                "transitiveMembers.cast",
                GROUP_MEMBERS,
                directory.transitive_members_cast,
            ),
        )
    ),
)
"""Matched in order: ``contacts/delta`` before ``contacts/{id}``."""


def match(request: Request) -> tuple[Route, dict[str, str]] | None:
    """The first route whose method and pattern fit, with the path's parameters."""
    segments = request.segments
    for route in ROUTES:
        if route.method != request.method or len(route.pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for expected, given in zip(route.pattern, segments, strict=True):
            if expected.startswith("{"):
                params[expected.strip("{}")] = given
            elif expected != given.lower().removesuffix("()"):
                break
        else:
            return route, params
    return None


def user_of(request: Request) -> str:
    """The mailbox a request's path names ("" when none), for the counters."""
    segments = request.segments
    return segments[1].lower() if len(segments) > 1 and segments[0].lower() == "users" else ""


def dispatch(state: PeerState, roles: frozenset[str], request: Request) -> Reply:
    """Answer one routed request; every refusal becomes Graph's error reply."""
    try:
        return _dispatch(state, roles, request)
    except GraphError as error:
        return refusal(error)
    except UnsupportedError as missing:
        return refusal(not_implemented(str(missing)))
    except Exception:
        log.exception("graph emulator failed on %s %s", request.method, request.path)
        return Reply(500, INTERNAL_ERROR)


def _dispatch(state: PeerState, roles: frozenset[str], request: Request) -> Reply:
    retry_after = state.draw_throttle()
    if retry_after is not None:
        raise throttled(retry_after)
    found = match(request)
    if found is None:
        raise not_implemented(f"{request.method} {request.path}")
    route, params = found
    if state.draw_failure():
        raise GraphError(500, "UnknownError", "The emulator was told to fail this request.")
    address = ""
    if "user" in params:
        mailbox = state.store.mailbox(params["user"])
        if mailbox is None:
            raise invalid_user(params["user"])
        if not mailbox.granted:
            raise policy_denied()
        address = mailbox.address
    call = Call(state, request, address, params.get("id", ""), params, roles)
    if not address:
        return _serve(call, route)
    with state.mailbox_limits.serving(address):
        return _serve(call, route)


def _serve(call: Call, route: Route) -> Reply:
    """The route's answer, once its permission is checked."""
    request = call.request
    if route.role and not directory.granted(call.roles, route.role):
        raise route.denial()
    if request.prefer("IdType") is not None:
        raise not_implemented(f'the preference IdType="{request.prefer("IdType")}"')
    zone = preferred_zone(request)
    reply = route.handler(call)
    return in_zone(reply, zone) if zone is not None else reply


def operation_of(request: Request) -> str:
    """The counters' name for a request's route."""
    found = match(request)
    return found[0].operation if found is not None else "unimplemented"

"""Users and groups as Graph serves them to an app: ``/users``, ``/users/{id}``,
``/groups/{id}`` and a group's (transitive) members, with ``$select``, ``$top`` and
``@odata.nextLink`` paging at Graph's page sizes (100 by default, at most 999).

Application permissions are Graph's: users need User.Read.All (or a role above it), groups
and their members GroupMember.Read.All (or above). A token that may list a group's members
but not read users gets each user as Graph gives an inaccessible member: its type and id,
every other property null. The query options Graph offers here beyond these ($filter,
$search, $count, $orderby, $expand) are answered 501, naming the option.
"""

from __future__ import annotations

import base64
import bisect
import json
import uuid
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlencode

from engine.sandbox.graph.errors import (
    directory_bad_request,
    not_implemented,
    resource_not_found,
)
from engine.sandbox.graph.request import Call, Reply, selected
from engine.sandbox.graph.tenant import (
    DEFAULT_USER_PROPERTIES,
    GROUP_PROPERTIES,
    GROUP_TYPE,
    USER_PROPERTIES,
    USER_TYPE,
)
from engine.settings.adsync import GRAPH_GROUP_PERMISSION, GRAPH_USER_PERMISSION

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999
GRANTING = {
    GRAPH_USER_PERMISSION: frozenset(
        {
            GRAPH_USER_PERMISSION,
            "User.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
    GRAPH_GROUP_PERMISSION: frozenset(
        {
            GRAPH_GROUP_PERMISSION,
            "GroupMember.ReadWrite.All",
            "Group.Read.All",
            "Group.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        }
    ),
}
"""The application roles that grant each permission a directory route needs."""
_CASTS = {
    f"{namespace}.{kind}": f"#microsoft.graph.{kind}"
    for namespace in ("microsoft.graph", "graph")
    for kind in ("user", "group")
}
"""A cast names the type in full or by Graph's alias (``graph.user``, as the SDK sends it)."""
_LIST_OPTIONS = ("$select", "$top", "$skiptoken")
Entry = tuple[str, dict[str, Any]]
"""A directory object and its ``@odata.type``."""


def granted(roles: Collection[str], permission: str) -> bool:
    """Whether the token's roles include the permission or one above it."""
    return not GRANTING.get(permission, frozenset({permission})).isdisjoint(roles)


def get_user(call: Call) -> Reply:
    call.request.options(("$select",))
    wanted = selected(call.request.query.get("$select"), USER_PROPERTIES)
    user = call.state.tenant.user(call.item_id)
    if user is None:
        raise resource_not_found(call.item_id)
    body = {"@odata.context": f"{call.state.url}/$metadata#users/$entity"}
    return Reply(200, body | _properties(user, wanted or DEFAULT_USER_PROPERTIES))


def list_users(call: Call) -> Reply:
    call.request.options(_LIST_OPTIONS)
    wanted = selected(call.request.query.get("$select"), USER_PROPERTIES)
    tenant = call.state.tenant
    with tenant.lock:
        users = [(USER_TYPE, user) for _, user in sorted(tenant.users.items())]
    return _page(
        call, users, "users", lambda entry: _properties(entry[1], wanted or DEFAULT_USER_PROPERTIES)
    )


def get_group(call: Call) -> Reply:
    call.request.options(("$select",))
    wanted = selected(call.request.query.get("$select"), GROUP_PROPERTIES)
    group = _group(call)
    body = {"@odata.context": f"{call.state.url}/$metadata#groups/$entity"}
    return Reply(200, body | _properties(group, wanted or GROUP_PROPERTIES))


def direct_members(call: Call) -> Reply:
    return _members(call, transitive=False, cast="")


def transitive_members(call: Call) -> Reply:
    return _members(call, transitive=True, cast="")


def transitive_members_cast(call: Call) -> Reply:
    """``transitiveMembers/microsoft.graph.user`` (or ``graph.user``, or a group cast): the
    members of that type."""
    return _members(call, transitive=True, cast=call.params["cast"])


def _members(call: Call, transitive: bool, cast: str) -> Reply:
    call.request.options(_LIST_OPTIONS)
    if cast and cast.lower() not in _CASTS:
        raise not_implemented(f"the cast to '{cast}' (the emulator's groups hold users and groups)")
    only = _CASTS.get(cast.lower())
    known = {
        USER_TYPE: USER_PROPERTIES,
        GROUP_TYPE: GROUP_PROPERTIES,
        None: USER_PROPERTIES + GROUP_PROPERTIES,
    }[only]
    wanted = selected(call.request.query.get("$select"), known)
    group = _group(call)
    members = call.state.tenant.members_of(group["id"], transitive, only)
    limited = not granted(call.roles, GRAPH_USER_PERMISSION)
    shown = {
        kind: [name for name in wanted or default if name in served]
        for kind, served, default in (
            (USER_TYPE, USER_PROPERTIES, DEFAULT_USER_PROPERTIES),
            (GROUP_TYPE, GROUP_PROPERTIES, GROUP_PROPERTIES),
        )
    }

    def render(entry: Entry) -> dict[str, Any]:
        kind, found = entry
        data = _properties(found, shown[kind])
        if limited and kind == USER_TYPE:
            data = dict.fromkeys(data)
        return {"@odata.type": kind, **data, "id": found["id"]}

    return _page(call, members, "directoryObjects", render)


def _group(call: Call) -> dict[str, Any]:
    try:
        uuid.UUID(call.item_id)
    except ValueError:
        raise directory_bad_request(f"Invalid object identifier '{call.item_id}'.") from None
    group = call.state.tenant.group(call.item_id)
    if group is None:
        raise resource_not_found(call.item_id)
    return group


def _properties(found: dict[str, Any], names: Collection[str]) -> dict[str, Any]:
    return {name: found[name] for name in names}


def _page(call: Call, entries: Sequence[Entry], entity: str, render: Any) -> Reply:
    """One page of ``entries`` (sorted by id) after the skip token's id; a nextLink that
    keeps the request's options when more follow."""
    query = call.request.query
    size = _page_size(query.get("$top"))
    after = _skipped(query.get("$skiptoken"), call.request.path)
    start = bisect.bisect_right(entries, after, key=lambda entry: entry[1]["id"]) if after else 0
    page = entries[start : start + size]
    answer: dict[str, Any] = {
        "@odata.context": f"{call.state.url}/$metadata#{entity}",
        "value": [render(entry) for entry in page],
    }
    if start + size < len(entries):
        token = _token(call.request.path, page[-1][1]["id"])
        kept = {name: value for name, value in query.items() if name != "$skiptoken"}
        link = urlencode(kept | {"$skiptoken": token}, safe="$,.")
        answer["@odata.nextLink"] = f"{call.state.url}{call.request.path}?{link}"
    return Reply(200, answer)


def _page_size(top: str | None) -> int:
    if top is None:
        return DEFAULT_PAGE_SIZE
    if not top.isdigit() or not 1 <= int(top) <= MAX_PAGE_SIZE:
        raise directory_bad_request(
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE_SIZE}"
            " inclusive."
        )
    return int(top)


def _token(path: str, after: str) -> str:
    data = json.dumps({"path": path.lower(), "after": after}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _skipped(token: str | None, path: str) -> str:
    """The id a skip token continues after ("" without one)."""
    if token is None:
        return ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["path"] == path.lower():
            return str(data["after"])
    except (ValueError, TypeError, KeyError):
        pass
    raise directory_bad_request("The skip token is malformed or belongs to another request.")

"""A Graph request as the routes see it (top-level or inside a $batch) and their reply."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from engine.sandbox.graph.errors import GraphError, bad_request, not_implemented, refused_option
from engine.sandbox.graph.state import PeerState


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    """Relative to the version, e.g. ``/users/a@b.example/events``."""
    query: dict[str, str]
    headers: dict[str, str]
    """Names lower-cased."""
    body: Any = None

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Iterable[tuple[str, str]], body: Any
    ) -> Request:
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        return cls(method.upper(), url.path, query, {k.lower(): v for k, v in headers}, body)

    @property
    def segments(self) -> list[str]:
        return [unquote(part) for part in self.path.split("/") if part]

    def prefer(self, name: str) -> str | None:
        """A ``Prefer`` header preference's value (unquoted), or None."""
        for preference in self.headers.get("prefer", "").split(","):
            key, _, value = preference.strip().partition("=")
            if key.strip().lower() == name.lower():
                return value.strip().strip('"')
        return None

    def options(
        self, accepted: Collection[str], refused: Collection[str] = (), resource: str = ""
    ) -> None:
        """Refuse query options Graph refuses here (400) and those the peer lacks (501)."""
        for option in self.query:
            if option in refused:
                raise refused_option(option, resource)
            if option not in accepted:
                raise not_implemented(f"the query option '{option}' on {self.method} {self.path}")

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise bad_request("The request body must be a JSON object.")
        return self.body


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def refusal(error: GraphError) -> Reply:
    return Reply(error.status, error.payload(), error.headers)


@dataclass(frozen=True)
class Call:
    """A routed request: who it is for (the mailbox, or "" for the directory), and the item
    id of its path (or "")."""

    state: PeerState
    request: Request
    mailbox: str
    item_id: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    """The path's parameters (``{cast}`` of a member cast, ...)."""
    roles: frozenset[str] = frozenset()
    """The application roles of the request's token."""


def selected(names: str | None, known: Collection[str]) -> frozenset[str] | None:
    """The properties a ``$select`` names; None without one."""
    if names is None:
        return None
    wanted = frozenset(name.strip() for name in names.split(",") if name.strip())
    unknown = sorted(wanted - set(known))
    if unknown:
        raise not_implemented(f"the property '{unknown[0]}' in $select")
    return wanted


def restrict(data: dict[str, Any], wanted: frozenset[str] | None) -> dict[str, Any]:
    """Keep what ``$select`` asked for, and what Graph always sends (id, etag, removal)."""
    if wanted is None:
        return data
    always = {"id", "@odata.etag", "@removed"}
    return {key: value for key, value in data.items() if key in wanted or key in always}

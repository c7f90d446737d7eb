"""The door in front of textual-serve: a per-start token, own-origin sockets, a session cap.

textual-serve starts a console process, with the profile's secrets within reach, for every
WebSocket that reaches its port, and has no authentication of its own. This server mounts
textual-serve's unchanged application under a secret path, ``/<token>/``, so the page, its
static files, the socket and the downloads all need the token that ``msext serve`` prints.
A middleware in front of it compares the token in constant time, refuses requests that a
page from another origin makes (a browser sends its ``Origin`` with every WebSocket, and a
web page open in the admin's browser can otherwise reach a tunnelled port), and caps the
consoles running at once.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from textual_serve.server import Server

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(host: str, port: int) -> str:
    """The origin a browser gives a page served from ``host:port`` (IPv6 in brackets)."""
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}"


class GuardedServer(Server):
    """textual-serve behind the token, the origin check and the cap on sessions."""

    def __init__(
        self, command: str, *, host: str, port: int, title: str, max_sessions: int
    ) -> None:
        super().__init__(
            command, host=host, port=port, title=title, public_url=origin_of(host, port)
        )
        self.token = secrets.token_urlsafe(32)
        self.max_sessions = max_sessions
        self.sessions = 0
        names = LOOPBACK_NAMES if is_loopback(host) else (host,)
        # Through a tunnel the browser may name the loopback address either way.
        self.origins = frozenset(origin_of(name, port) for name in names)

    @property
    def url(self) -> str:
        """The address to open, token included."""
        return f"{self.public_url}/{self.token}/"

    async def _make_app(self) -> web.Application:
        """textual-serve's own application, mounted under the token behind the guard."""
        root = web.Application(middlewares=[self._guard])
        root.add_subapp(f"/{self.token}", await super()._make_app())
        return root

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        first, slash, _ = request.path.removeprefix("/").partition("/")
        if not hmac.compare_digest(first.encode(), self.token.encode()):
            raise web.HTTPForbidden(
                text="msext serve: this address needs the token: open the URL that"
                " `msext serve` printed\n"
            )
        if not slash:
            raise web.HTTPFound(f"/{self.token}/")
        route = request.match_info.route.name
        origin = request.headers.get(hdrs.ORIGIN)
        if (origin is not None or route == "websocket") and origin not in self.origins:
            raise web.HTTPForbidden(
                text=f"msext serve: refused a request from origin {origin}: only the page"
                f" served at {self.public_url} may open a console\n"
            )
        if route in ("index", "websocket") and self.sessions >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"msext serve: {self.sessions} consoles are open, the most this server"
                " allows (--max-sessions); close one and reload\n"
            )
        if route != "websocket":
            response = await handler(request)
            response.headers["Referrer-Policy"] = "no-referrer"  # the URL holds the token
            return response
        self.sessions += 1
        try:
            return await handler(request)
        finally:
            self.sessions -= 1

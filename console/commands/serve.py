"""``msext serve``: the console in a web browser through textual-serve.

Every browser tab gets its own console process on this machine, with the same profile and
the same powers as someone at the terminal. So the server listens on loopback unless
``--allow-remote`` says otherwise, the way in from elsewhere is an SSH tunnel, and the door
in front of textual-serve (``console.web_door``) asks for the token printed at start, turns
away other origins and caps the consoles running at once.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys

from engine.errors import UserError
from engine.profile import Profile

DEFAULT_MAX_SESSIONS = 3
"""A few tabs for one administrator; each console is a process of about 60 MB."""


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the console to a web browser (loopback only, with a token)",
        description="Serves the console at http://HOST:PORT/TOKEN/ until Ctrl-C; the token is"
        " new at every start. Anyone with the URL can change the configuration: keep the"
        " default loopback address and connect through an SSH tunnel, e.g."
        " ssh -L 8000:127.0.0.1:8000 this-host.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (prefer an SSH tunnel)",
    )
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        help=f"consoles open at once (default: {DEFAULT_MAX_SESSIONS})",
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace, profile: Profile) -> int:
    from console.web_door import GuardedServer, is_loopback

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port number (1-65535)")
    if args.max_sessions < 1:
        raise UserError(f"--max-sessions {args.max_sessions} must be at least 1")
    loopback = is_loopback(args.host)
    check_host(args.host, args.port, loopback, args.allow_remote)
    if not loopback:
        print(
            f"msext: warning: serving on {args.host}, not on loopback: anyone who can reach"
            " this address and learns the URL can configure the extension.",
            file=sys.stderr,
            flush=True,
        )
    command = shlex.join([sys.executable, "-m", "console.cli", "--profile", profile.name])
    server = GuardedServer(
        command,
        host=args.host,
        port=args.port,
        title=f"msext ({profile.name})",
        max_sessions=args.max_sessions,
    )
    print(
        f"serving the console of profile {profile.name!r} at {server.url} (Ctrl-C stops;"
        f" at most {args.max_sessions} consoles at once)",
        flush=True,
    )
    try:
        server.serve()
    except OSError as error:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    return 0


def check_host(host: str, port: int, loopback: bool, allow_remote: bool) -> None:
    """Loopback, or an address a browser can open when ``--allow-remote`` says so."""
    if loopback:
        return
    if not allow_remote:
        raise UserError(
            f"--host {host} is not a loopback address; reach the console through an SSH"
            f" tunnel (ssh -L {port}:127.0.0.1:{port} this-host), or add --allow-remote"
        )
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        raise UserError(f"--host {host} is no address a browser can open: name this host's address")

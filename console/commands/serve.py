"""``msext serve``: the console in a web browser through textual-serve.

Every browser tab gets its own console process on this machine, with the same profile and
the same powers as someone at the terminal. So the server listens on loopback unless told
otherwise; the way in from elsewhere is an SSH tunnel, not an open port.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from engine.errors import UserError
from engine.profile import Profile

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the console to a web browser (loopback only by default)",
        description="Serves the console at http://HOST:PORT until Ctrl-C. Anyone who reaches"
        " the address can change the configuration: keep the default loopback address and"
        " connect through an SSH tunnel, e.g. ssh -L 8000:127.0.0.1:8000 this-host.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace, profile: Profile) -> int:
    from textual_serve.server import Server

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port number (1-65535)")
    if args.host not in LOOPBACK:
        print(
            f"msext: warning: serving on {args.host}, not on loopback: anyone who can reach"
            " this address can configure the extension. Prefer an SSH tunnel to 127.0.0.1.",
            file=sys.stderr,
            flush=True,
        )
    command = shlex.join([sys.executable, "-m", "console.cli", "--profile", profile.name])
    url = f"http://{args.host}:{args.port}"
    server = Server(command, host=args.host, port=args.port, title=f"msext ({profile.name})")
    print(f"serving the console of profile {profile.name!r} at {url} (Ctrl-C stops)", flush=True)
    try:
        server.serve()
    except OSError as error:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    return 0

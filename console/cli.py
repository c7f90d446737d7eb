"""The ``msext`` command line.

Exit codes (stable, for scripts): 0 success; 1 finished with warnings or per-item errors;
2 bad input or configuration (one line on stderr says what); 70 internal error (details in
the profile's log file); 74 a file of the profile cannot be written (a full disk; one line
names it); 75 another sync of the profile is running (one line names it); 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date

from console.commands import adsync, compare, config, doctor, sandbox, serve, sync, teams
from engine.demo import create_demo_profile
from engine.errors import UserError
from engine.logs import configure_logging
from engine.paths import DEFAULT_PROFILE, DEMO_PROFILE, ProfilePaths
from engine.profile import Profile
from engine.redaction import redactor
from engine.run_lock import SyncBusyError
from engine.storage import StorageFullError

EXIT_OK, EXIT_WARNINGS, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
EXIT_BUSY = 75
EXIT_STORAGE = 74
"""A file of the profile cannot be written (a full disk): sysexits' EX_IOERR."""
log = logging.getLogger("msext.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msext",
        description="Configuration console and sync engine for the PSA's Microsoft extensions."
        " Without a command, opens the console.",
    )
    parser.add_argument(
        "--profile",
        default=None,
        help=f"isolated profile to use (default: $MSEXT_PROFILE or {DEFAULT_PROFILE!r})",
    )
    parser.set_defaults(handler=open_console)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="open the console on the demo profile (embedded PSA, EWS and Graph emulators)"
    )
    demo.add_argument(
        "--seed-only", action="store_true", help="create the demo profile, do not open the console"
    )
    demo.add_argument("--reset", action="store_true", help="start the demo profile afresh")
    demo.set_defaults(handler=run_demo, creates_profile=True)
    setup = commands.add_parser(
        "setup", help="open the setup wizard (on a new profile too: it is made when saved)"
    )
    setup.set_defaults(handler=open_setup, creates_profile=True)
    config.register(commands)
    compare.register(commands)
    sync.register(commands)
    adsync.register(commands)
    teams.register(commands)
    doctor.register(commands)
    sandbox.register(commands)
    serve.register(commands)
    return parser


def open_console(
    args: argparse.Namespace, profile: Profile, offer_tour: bool = False, setup: bool = False
) -> int:
    from console.app import MsextApp

    if profile.store.exists() and not setup:
        profile.resources()  # a configured profile without a PSA is told so here
    app = MsextApp(profile, offer_tour=offer_tour, setup=setup)
    app.run()
    if app.failure is not None:
        raise app.failure
    return EXIT_OK


def open_setup(args: argparse.Namespace, profile: Profile) -> int:
    return open_console(args, profile, setup=True)


def run_demo(args: argparse.Namespace, profile: Profile) -> int:
    created = create_demo_profile(profile.paths, today=date.today(), reset=args.reset)
    if args.seed_only:
        state = "created" if created else "already exists"
        print(f"demo profile {profile.name!r} {state}: {profile.paths.config_file}")
        return EXIT_OK
    return open_console(args, profile, offer_tour=True)


def _profile_name(args: argparse.Namespace) -> str:
    """``--profile``, else ``$MSEXT_PROFILE``: a sandbox serves the profile named either way.
    ``msext demo`` alone is the demo profile whatever the environment says (it may start a
    profile afresh); ``msext sandbox`` without a name serves the demo's."""
    if args.profile:
        return args.profile
    if args.handler is run_demo:
        return DEMO_PROFILE
    default = DEMO_PROFILE if args.handler is sandbox.run_sandbox else DEFAULT_PROFILE
    return os.environ.get("MSEXT_PROFILE", default)


def _require_existing(paths: ProfilePaths, args: argparse.Namespace) -> None:
    """A mistyped profile name is an error, never a new empty profile. Only the default
    profile (a first run), ``demo``, ``setup`` and ``config set --new`` may make one."""
    if paths.exists() or paths.name == DEFAULT_PROFILE or getattr(args, "creates_profile", False):
        return
    existing = ", ".join(ProfilePaths.existing()) or "none"
    raise UserError(
        f"no profile {paths.name!r} (profiles here: {existing});"
        f" to make it, run: {paths.command('setup')}"
    )


def _not_utf8(arguments: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """What input is not UTF-8 text. Python hands such bytes over as lone surrogates, which
    nothing downstream can print or save; said here once, they are bad input (exit 2)."""
    named = [(f"argument {number}", text) for number, text in enumerate(arguments, 1)]
    named += [(name, text) for name, text in environ.items() if name.startswith("MSEXT_")]
    for name, text in named:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"{name} is not UTF-8 text (at character {error.start + 1}); use UTF-8"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    problem = _not_utf8(arguments, os.environ)
    if problem:
        print(f"msext: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    args = build_parser().parse_args(arguments)
    profile: Profile | None = None
    try:
        paths = ProfilePaths.for_profile(_profile_name(args))
        _require_existing(paths, args)
        configure_logging(paths)
        profile = Profile(paths)
        return args.handler(args, profile)
    except UserError as error:
        print(f"msext: {redactor.redact(str(error))}", file=sys.stderr)
        if isinstance(error, SyncBusyError):
            return EXIT_BUSY
        return EXIT_STORAGE if isinstance(error, StorageFullError) else EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _internal_error(error, profile)
        print(f"msext: {error.filename or 'a file'}: {error.strerror}", file=sys.stderr)
        return EXIT_STORAGE
    except Exception as error:
        return _internal_error(error, profile)
    finally:
        if profile is not None:
            profile.close()


def _internal_error(error: Exception, profile: Profile | None) -> int:
    """A bug: the traceback goes to the log, one line to stderr."""
    log.exception("internal error")
    where = profile.paths.log_file if profile else "the log file"
    print(
        f"msext: internal error: {redactor.redact(str(error)) or type(error).__name__}"
        f" (details in {where})",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

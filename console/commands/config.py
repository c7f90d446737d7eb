"""``msext config show|set|unset|check``: the profile's settings from the command line."""

from __future__ import annotations

import argparse

import tomli_w

from console.commands.output import emit, emit_json
from engine.errors import SettingsError, UserError
from engine.profile import Profile
from engine.settings.store import MAX_CONFIG_BYTES, MAX_REPAIR_BYTES, flat_keys


def register(commands: argparse._SubParsersAction) -> None:
    config = commands.add_parser("config", help="show, change and check the profile's settings")
    verbs = config.add_subparsers(dest="config_verb", required=True, metavar="VERB")

    show = verbs.add_parser("show", help="print the effective settings (file + environment)")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    show.set_defaults(handler=show_settings)

    set_ = verbs.add_parser(
        "set",
        help="set one key, e.g. exchange.sync.interval_minutes 15",
        description="Set one dotted key. Nothing is saved when the new value breaks a rule;"
        " the previous file is kept as config.toml.bak.",
    )
    set_.add_argument(
        "--new",
        dest="creates_profile",
        action="store_true",
        help="make the profile named by --profile if it does not exist yet",
    )
    set_.add_argument("key")
    set_.add_argument("value")
    set_.set_defaults(handler=set_setting)

    unset = verbs.add_parser("unset", help="return one key to its default")
    unset.add_argument("key")
    unset.set_defaults(handler=unset_setting)

    check = verbs.add_parser("check", help="validate the settings; exit 0 ok, 1 warnings, 2 errors")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=check_settings)


def show_settings(args: argparse.Namespace, profile: Profile) -> int:
    """Also shows a file grown larger than msext reads, so that it can be mended."""
    settings = profile.store.load(limit=MAX_REPAIR_BYTES)
    document = settings.model_dump(mode="json", exclude_none=True)
    overridden = sorted(flat_keys(profile.store.env_overrides()))
    if args.json:
        emit_json(
            {
                "file": str(profile.store.path),
                "environment_overrides": overridden,
                "settings": document,
            }
        )
        return 0
    emit(f"# {profile.store.path}")
    if profile.store.too_large():
        emit(
            f"# this file is larger than the {MAX_CONFIG_BYTES:,} bytes msext reads: shrink it"
            " with msext config unset KEY"
        )
    for key in overridden:
        emit(f"# {key} is overridden by the environment")
    emit(tomli_w.dumps(document).rstrip())
    return 0


def set_setting(args: argparse.Namespace, profile: Profile) -> int:
    profile.store.set_value(args.key, args.value)
    emit(f"saved {args.key} in {profile.store.path}")
    return 0


def unset_setting(args: argparse.Namespace, profile: Profile) -> int:
    profile.store.unset_value(args.key)
    emit(f"{args.key} is back to its default in {profile.store.path}")
    return 0


def check_settings(args: argparse.Namespace, profile: Profile) -> int:
    try:
        settings = profile.store.load()
    except SettingsError as error:
        problems = error.problems
        warnings: list[tuple[str, str]] = []
    except UserError as error:
        problems = {"file": str(error)}
        warnings = []
    else:
        problems = {}
        warnings = settings.warnings()
    if args.json:
        emit_json(
            {
                "ok": not problems and not warnings,
                "errors": [{"key": key, "message": message} for key, message in problems.items()],
                "warnings": [{"key": key, "message": message} for key, message in warnings],
            }
        )
    else:
        for key, message in problems.items():
            emit(f"error: {key}: {message}")
        for key, message in warnings:
            emit(f"warning: {key}: {message}")
        if not problems and not warnings:
            emit(f"ok: {profile.store.path}")
    if problems:
        return 2
    return 1 if warnings else 0

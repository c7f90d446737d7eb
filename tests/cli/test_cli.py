"""The ``msext`` command line as a script or an administrator uses it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from console.cli import build_parser, main
from engine.paths import ProfilePaths

INTERVAL_15 = ("exchange.sync.interval_minutes", "15")


@pytest.fixture
def demo() -> ProfilePaths:
    assert main(["demo", "--seed-only"]) == 0
    return ProfilePaths.for_profile("demo")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_seed_only_creates_the_profile_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--seed-only")
    assert code == 0 and "created" in out
    code, out, _ = run(capsys, "demo", "--seed-only")
    assert code == 0 and "already exists" in out
    assert ProfilePaths.for_profile("demo").psa_db.exists()


def test_interval_below_minimum_is_refused_and_file_kept(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """R01: `config set exchange.sync.interval_minutes 5` exits non-zero with the 10-minute
    message and leaves the file unchanged; 10 works."""
    before = demo.config_file.read_bytes()
    code, _, err = run(
        capsys, "--profile", "demo", "config", "set", "exchange.sync.interval_minutes", "5"
    )
    assert code == 2
    assert err.strip() == (
        "msext: exchange.sync.interval_minutes: sync interval must be at least 10 minutes (R01)"
    )
    assert demo.config_file.read_bytes() == before
    code, out, _ = run(
        capsys, "--profile", "demo", "config", "set", "exchange.sync.interval_minutes", "10"
    )
    assert code == 0 and "saved" in out
    code, out, _ = run(capsys, "--profile", "demo", "config", "show", "--json")
    assert json.loads(out)["settings"]["exchange"]["sync"]["interval_minutes"] == 10


def test_compare_prints_the_matrix_for_a_demo_user(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """R20, R12: the per-user matrix as JSON; the demo's Outlook user with contact integration
    has the contact conflict."""
    code, out, _ = run(
        capsys, "--profile", "demo", "compare", "ava.fischer@contoso.example", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["user"]["name"] == "Ava Fischer"
    assert len(data["rows"]) == 15 and len(data["add_in_actions"]) == 15
    assert data["conflicts"] == []
    code, out, _ = run(capsys, "--profile", "demo", "compare", "Ben Brooks", "--json")
    assert "contacts_both" in [c["code"] for c in json.loads(out)["conflicts"]]
    code, out, _ = run(capsys, "--profile", "demo", "compare", "2")
    assert code == 0 and "[conflict] Contacts are synced by both modules (R12)" in out


def test_clearing_share_contacts_removes_the_conflict_from_compare(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """R12: the seed's remedy, done from the command line."""
    run(capsys, "--profile", "demo", "config", "set", "exchange.sync.share_contacts", "false")
    _, out, _ = run(capsys, "--profile", "demo", "compare", "2", "--json")
    assert "contacts_both" not in [c["code"] for c in json.loads(out)["conflicts"]]


def test_unknown_or_ambiguous_users_get_one_line(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--profile", "demo", "compare", "nobody@nowhere.example")
    assert code == 2 and err.startswith("msext: no PSA resource matches")
    code, _, err = run(capsys, "--profile", "demo", "compare", "a")
    assert code == 2 and "be more precise" in err


def test_config_check_exit_codes(demo: ProfilePaths, capsys: pytest.CaptureFixture[str]) -> None:
    """0 ok, 1 warnings, 2 errors."""
    assert run(capsys, "--profile", "demo", "config", "check")[0] == 0
    run(capsys, "--profile", "demo", "config", "set", "exchange.general.verify_tls", "false")
    code, out, _ = run(capsys, "--profile", "demo", "config", "check")
    assert code == 1 and "TLS verification is off" in out
    demo.config_file.write_text("[exchange.sync]\ninterval_minutes = 3\n")
    code, out, _ = run(capsys, "--profile", "demo", "config", "check", "--json")
    assert code == 2 and json.loads(out)["errors"][0]["key"] == "exchange.sync.interval_minutes"


def test_a_profile_without_a_psa_says_how_to_make_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--profile", "empty", "config", "set", "--new", *INTERVAL_15)[0] == 0
    code, _, err = run(capsys, "--profile", "empty", "compare", "x")
    assert code == 2 and "msext --profile empty demo --seed-only" in err


def test_a_mistyped_profile_is_an_error_naming_the_existing_ones(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing is created for an unknown profile; the line names it, lists the profiles
    there are and says how to make a new one."""
    for argv in (("config", "show"), ("config", "set", *INTERVAL_15), ("status",)):
        code, _, err = run(capsys, "--profile", "demoo", *argv)
        assert code == 2, argv
        assert "no profile 'demoo'" in err and "demo" in err.split("profiles here:")[1]
        assert "msext --profile demoo setup" in err
    assert not ProfilePaths.for_profile("demoo").config_dir.exists()
    assert not ProfilePaths.for_profile("demoo").log_dir.exists()


def test_doctor_prints_commands_that_work_as_printed(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fix that names a command names the profile too, so it can be pasted as is."""
    _, out, _ = run(capsys, "--profile", "demo", "doctor", "ava.fischer@contoso.example", "--json")
    fixes = [check["fix"] for check in json.loads(out)["checks"] if "msext" in check["fix"]]
    assert fixes and all("msext --profile demo " in fix for fix in fixes), fixes


def test_bad_profile_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--profile", "../etc", "config", "show")
    assert code == 2 and "invalid profile name" in err


def listed_verbs() -> list[str]:
    parser = build_parser()
    (commands,) = [action for action in parser._actions if action.dest == "==SUPPRESS=="]
    return sorted(commands.choices)


def test_help_lists_only_working_verbs() -> None:
    """`--help` lists exactly the verbs that are built, and each one answers its own --help."""
    assert listed_verbs() == [
        "adsync",
        "compare",
        "config",
        "daemon",
        "demo",
        "doctor",
        "sandbox",
        "serve",
        "setup",
        "status",
        "sync",
        "teams",
    ]
    for verb in listed_verbs():
        with pytest.raises(SystemExit) as done:
            main([verb, "--help"])
        assert done.value.code == 0


def test_no_traceback_for_a_broken_config_file(demo: ProfilePaths) -> None:
    """Bad input exits non-zero with one line, never a traceback."""
    demo.config_file.write_bytes(b"\xff\xfe")
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "--profile", "demo", "config", "show"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_console_on_a_configured_profile_without_psa_says_what_to_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A profile with settings but no PSA data exits 2 with one line naming the next step
    (an empty profile opens the setup wizard instead, see tests/console/test_setup.py)."""
    assert run(capsys, "config", "set", "exchange.sync.interval_minutes", "15")[0] == 0
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "msext demo --seed-only" in err and "Traceback" not in err


def test_a_failure_inside_the_console_is_one_line_not_a_traceback(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page that fails to build closes the console; the CLI says why in one line, exit 70,
    and the traceback goes to the log file only."""
    from console.screens.admin import AdminScreen

    def broken(self: AdminScreen) -> list:
        raise RuntimeError("page exploded")

    monkeypatch.setattr(AdminScreen, "entries", broken)
    monkeypatch.setattr("console.app.MsextApp.run", _headless_run)
    code, out, err = run(capsys, "--profile", "demo")
    assert code == 70 and "Traceback" not in out + err
    assert err.startswith("msext: internal error: page exploded (details in ")
    assert "Traceback" in demo.log_file.read_text(encoding="utf-8")


def _headless_run(self) -> None:
    """App.run without a terminal, as the console's tests drive it."""
    import asyncio
    import contextlib

    async def drive() -> None:
        async with self.run_test(size=(80, 24)) as pilot:
            await pilot.pause()

    with contextlib.suppress(RuntimeError):  # run_test re-raises the page's error; run does not
        asyncio.run(drive())


def test_tables_fit_the_terminal_and_keep_every_word(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """R20: `msext compare` printed lines of 160 columns and more, which an 80-column
    terminal folds mid-word; the widest columns now wrap within the terminal's width,
    and --json is unchanged."""
    monkeypatch.setenv("COLUMNS", "200")
    _, wide, _ = run(capsys, "--profile", "demo", "compare", "2")
    assert max(map(len, wide.splitlines())) > 120
    monkeypatch.setenv("COLUMNS", "80")
    _, narrow, _ = run(capsys, "--profile", "demo", "compare", "2")
    assert max(map(len, narrow.splitlines())) <= 80

    def words(text: str) -> list[str]:
        return sorted(word for word in text.split() if set(word) != {"-"})

    assert words(narrow) == words(wide)


def test_table_wraps_its_widest_column() -> None:
    from console.commands.output import table

    printed = table(("User", "Message"), [("Chloe Reyes", "access denied " * 8)], width=40)
    lines = printed.splitlines()
    assert max(map(len, lines)) <= 40
    assert lines[0].split() == ["User", "Message"]
    assert lines[2].startswith("Chloe Reyes  access denied")
    assert " ".join(" ".join(lines[2:]).split()[2:]) == ("access denied " * 8).strip()

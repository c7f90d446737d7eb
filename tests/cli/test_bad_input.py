"""The bad-input corpus: bad values and broken files, through the CLI and the console.

Every case gets one clear line (no traceback), nothing is saved, and the settings file on
disk stays byte for byte what it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import MsextApp
from console.cli import main
from console.screens.exchange.page import ExchangeScreen
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import copy_profiles
from tests.console.walk import settle

BAD_VALUES: list[tuple[str, str, str]] = [
    # (key, value, a part of the message)
    ("exchange.sync.interval_minutes", "5", "at least 10 minutes (R01)"),
    ("exchange.sync.interval_minutes", "0", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "-30", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "9", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "ten", "whole number"),
    ("exchange.sync.interval_minutes", "", "whole number"),
    ("exchange.sync.interval_minutes", "15.5", "whole number"),
    ("exchange.sync.interval_minutes", "9" * 400, ""),
    ("exchange.sync.workers", "0", ""),
    ("exchange.sync.workers", "11", ""),
    ("exchange.sync.days_back", "-1", ""),
    ("exchange.sync.max_delete_percent", "101", ""),
    ("exchange.sync.todo_folder", "inbox", ""),
    ("exchange.sync.contact_scope", "everyone", ""),
    ("exchange.sync.import_appointments", "maybe", ""),
    ("exchange.sync.share_contacts", "perhaps", "bool"),
    ("exchange.general.ews_url", "mail.contoso.example", "http(s) URL"),
    ("exchange.general.ews_url", "ftp://mail.contoso.example/EWS/Exchange.asmx", "http(s) URL"),
    ("exchange.general.ews_url", "https://", "http(s) URL"),
    ("exchange.general.ews_url", "https://exa mple.com/EWS", "spaces"),
    ("exchange.general.ews_url", "https://" + "a" * 3000 + ".example/EWS", "too long"),
    ("exchange.general.autodiscover_email", "not-an-address", "e-mail"),
    ("exchange.general.autodiscover_email", "a@", "e-mail"),
    ("exchange.general.autodiscover_email", "@contoso.example", "e-mail"),
    ("exchange.general.error_recipients", "it@contoso.example, nope", "e-mail"),
    ("exchange.general.auth_type", "kerberos", ""),
    ("exchange.general.server_type", "cloud", ""),
    ("exchange.general.exchange_version", "2010", ""),
    ("exchange.general.timeout_seconds", "1", ""),
    ("exchange.general.timeout_seconds", "100000", ""),
    ("exchange.general.secret", "hunter2", "env:"),
    ("exchange.general.secret", "file:../../etc/passwd", "secrets directory"),
    ("exchange.general.impersonation", "false", "impersonation"),
    ("exchange.resources.1.mailbox", "no at sign", "e-mail"),
    ("exchange.resources.two.mailbox", "ben@contoso.example", ""),
    ("outlook.limits.min_interval_minutes", "abc", "whole number"),
    ("sandbox.port", "70000", ""),
    ("exchange.sync.no_such_key", "1", "no_such_key"),
    ("nonsense", "1", "nonsense"),
]

BAD_FILES: list[tuple[str, bytes]] = [
    ("not UTF-8", b"\xff\xfe\x00[exchange]"),
    ("truncated TOML", b"[exchange.sync]\ninterval_minutes = "),
    ("unclosed table", b"[exchange.sync\ninterval_minutes = 15\n"),
    ("a string where a number goes", b'[exchange.sync]\ninterval_minutes = "often"\n'),
    ("below the minimum", b"[exchange.sync]\ninterval_minutes = 2\n"),
    ("unknown key", b"[exchange.sync]\nintervall_minutes = 15\n"),
    ("unknown section", b"[exchnage]\nenabled = true\n"),
    ("a table where a value goes", b"[exchange.sync.interval_minutes]\nx = 1\n"),
    ("huge", b"# " + b"x" * 2_000_000 + b"\n[exchange.sync]\ninterval_minutes = 1\n"),
    ("binary", bytes(range(256))),
]


@pytest.fixture
def demo(demo_template: Path, isolated_dirs: Path) -> ProfilePaths:
    copy_profiles(demo_template, isolated_dirs)
    return ProfilePaths.for_profile("demo")


@pytest.mark.parametrize(("key", "value", "says"), BAD_VALUES)
def test_bad_value_is_refused_with_one_line_and_nothing_saved(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], key: str, value: str, says: str
) -> None:
    """R01 among them: each bad value exits 2 with one line naming the key; the file stays."""
    before = demo.config_file.read_bytes()
    code = main(["--profile", "demo", "config", "set", key, value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("msext: ") and err.count("\n") == 1 and "Traceback" not in err
    assert says in err
    assert len(err) < 600, "the message stays short even for a huge value"
    assert demo.config_file.read_bytes() == before


@pytest.mark.parametrize(("what", "content"), BAD_FILES, ids=[what for what, _ in BAD_FILES])
def test_broken_file_is_reported_and_left_alone(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], what: str, content: bytes
) -> None:
    """Each broken settings file: `config check`, `sync` and setting another key exit 2 with
    one line, and nothing rewrites the file."""
    demo.config_file.write_bytes(content)
    for argv in (
        ["config", "check"],
        ["sync", "--once"],
        ["config", "set", "exchange.sync.days_back", "30"],
    ):
        code = main(["--profile", "demo", *argv])
        out, err = capsys.readouterr()
        assert code == 2, (what, argv, out, err)
        assert "Traceback" not in out + err and len(err) < 600
    assert demo.config_file.read_bytes() == content


CONSOLE_CASES = [
    ("#f-exchange-sync-interval_minutes", "tab-sync", "5", "at least 10 minutes"),
    ("#f-exchange-sync-interval_minutes", "tab-sync", "often", "whole number"),
    ("#f-exchange-sync-days_back", "tab-sync", "-3", ""),
    ("#f-exchange-general-ews_url", "tab-general", "mail.contoso", "http(s) URL"),
    ("#f-exchange-general-autodiscover_email", "tab-general", "nobody", "e-mail"),
    ("#f-exchange-general-secret", "tab-general", "plain-password", "env:"),
]


@pytest.mark.parametrize(("field", "tab", "value", "says"), CONSOLE_CASES)
async def test_bad_value_in_the_console_is_shown_and_not_saved(
    demo: ProfilePaths, field: str, tab: str, value: str, says: str
) -> None:
    """R01 among them: typed into the MS Exchange page, the model's message appears beside
    the field, ctrl+s refuses, and the file stays as it was."""
    before = demo.config_file.read_bytes()
    profile = Profile(demo)
    app = MsextApp(profile)
    async with app.run_test(size=(100, 40)) as pilot:
        app.go(ExchangeScreen)
        await settle(pilot)
        app.screen.query_one("#exchange-tabs").active = tab
        await pilot.pause()
        widget = app.screen.query_one(field)
        widget.focus()
        widget.value = ""
        await pilot.press(*value, "tab", "ctrl+s")
        await pilot.pause()
        problem = app.screen.query_one(field.replace("#f-", "#m-"))
        assert says in str(problem.render()) and str(problem.render()).startswith("! ")
    profile.close()
    assert demo.config_file.read_bytes() == before


def test_a_config_cut_short_is_refused_naming_the_backup(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that lost its end (a crash while copying it, a full disk) but still
    parses is not taken silently: every command says it is cut short and names
    config.toml.bak, which a save keeps as the last good file."""
    assert main(["--profile", "demo", "config", "set", "exchange.sync.days_back", "20"]) == 0
    whole = demo.config_file.read_text(encoding="utf-8")
    cut = whole[: whole.index("[users.")]
    demo.config_file.write_text(cut, encoding="utf-8")
    capsys.readouterr()
    for argv in (["config", "check"], ["sync", "--once"], ["status"]):
        code = main(["--profile", "demo", *argv])
        out, err = capsys.readouterr()
        assert code == 2, (argv, out, err)
        text = out + err
        assert "cut short" in text and "config.toml.bak" in text and "Traceback" not in text
    backup = demo.config_file.with_name("config.toml.bak")
    assert "[users." in backup.read_text(encoding="utf-8")
    assert demo.config_file.read_text(encoding="utf-8") == cut


def test_a_damaged_config_names_the_last_good_one(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file that is no longer UTF-8 or TOML names config.toml.bak in its one line;
    a save never replaces that backup with a damaged file."""
    assert main(["--profile", "demo", "config", "set", "exchange.sync.days_back", "20"]) == 0
    backup = demo.config_file.with_name("config.toml.bak").read_bytes()
    for content in (b"\xff\xfe[exchange]", b"[exchange.sync\n"):
        demo.config_file.write_bytes(content)
        capsys.readouterr()
        assert main(["--profile", "demo", "status"]) == 2
        err = capsys.readouterr().err
        assert "config.toml.bak" in err and err.count("\n") == 1
    assert demo.config_file.with_name("config.toml.bak").read_bytes() == backup


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "set", "exchange.general.sync_account", "svc-\udcff"],
        ["doctor", "\udcffava"],
        ["compare", "b\udce9n"],
    ],
    ids=["config set", "doctor", "compare"],
)
def test_an_argument_that_is_not_utf8_is_bad_input(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Bytes that are not UTF-8 on the command line (Python hands them over as lone
    surrogates) exit 2 with one line, not 70; nothing is saved."""
    before = demo.config_file.read_bytes()
    code = main(["--profile", "demo", *argv])
    err = capsys.readouterr().err
    assert code == 2 and "UTF-8" in err and err.count("\n") == 1
    assert demo.config_file.read_bytes() == before


def test_a_damaged_state_database_is_one_line_naming_it(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A state database that is not SQLite any more (a copy gone wrong) exits 2 with one line
    naming the file and what to do, for status and for sync."""
    demo.state_db.parent.mkdir(parents=True, exist_ok=True)
    demo.state_db.write_bytes(b"this is not a database " * 100)
    for argv in (["status"], ["sync", "--once"]):
        code = main(["--profile", "demo", *argv])
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert str(demo.state_db) in err and "damaged" in err and err.count("\n") == 1

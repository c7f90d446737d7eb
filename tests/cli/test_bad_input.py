"""The bad-input corpus: bad values and broken files, through the CLI and the console.

Every case gets one clear line (no traceback), nothing is saved, and the settings file on
disk stays byte for byte what it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import MsextApp
from console.cli import main
from console.screens.exchange import ExchangeScreen
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import copy_profiles

BAD_VALUES: list[tuple[str, str, str]] = [
    # (key, value, a part of the message)
    ("exchange.sync.interval_minutes", "5", "at least 10 minutes (R01)"),
    ("exchange.sync.interval_minutes", "0", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "-30", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "9", "at least 10 minutes"),
    ("exchange.sync.interval_minutes", "ten", "integer"),
    ("exchange.sync.interval_minutes", "", "integer"),
    ("exchange.sync.interval_minutes", "15.5", "integer"),
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
    ("outlook.limits.min_interval_minutes", "abc", "integer"),
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
    ("#f-exchange-sync-interval_minutes", "tab-sync", "often", "integer"),
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
        await pilot.pause()
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

"""The settings file's bounds and safety: values that fit, a file msext can always read
back (or repair), and saves from several processes at once that lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from console.cli import main
from engine.paths import ProfilePaths
from engine.settings.store import MAX_CONFIG_BYTES
from tests.conftest import copy_profiles


@pytest.fixture
def demo(demo_template: Path, isolated_dirs: Path) -> ProfilePaths:
    copy_profiles(demo_template, isolated_dirs)
    return ProfilePaths.for_profile("demo")


def msext(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", "--profile", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_eight_concurrent_config_sets_all_survive(demo: ProfilePaths) -> None:
    """Eight `msext config set` processes started together each save their key: the
    read-modify-write of the file is serialized across processes, and nothing is lost."""
    keys = [f"users.{100 + number}.outlook.version" for number in range(8)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--profile", "demo", "config", "set", key, "9.1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for key in keys
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.startswith("saved"), err
    saved = tomllib.loads(demo.config_file.read_text(encoding="utf-8"))
    assert sorted(saved["users"]) >= sorted(str(100 + number) for number in range(8))
    for number in range(8):
        assert saved["users"][str(100 + number)]["outlook"]["version"] == "9.1"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("exchange.general.sync_account", "svc" * 40_000, "at most 256 characters"),
        ("psa.rest_username", "u" * 300, "at most 256 characters"),
        ("users.5.outlook.version", "9" * 100_000, "at most"),
        (
            "exchange.general.error_recipients",
            ",".join(f"a{n}@x.example" for n in range(500)),
            "at most",
        ),
        ("exchange.general.autodiscover_email", "a" * 300 + "@contoso.example", "too long"),
    ],
)
def test_a_value_beyond_its_bound_is_refused(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str], key: str, value: str, says: str
) -> None:
    """A value too long for its setting is refused with one line; nothing is saved."""
    before = demo.config_file.read_bytes()
    assert main(["--profile", "demo", "config", "set", key, value]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and len(err) < 600
    assert demo.config_file.read_bytes() == before


def test_no_save_makes_a_file_msext_cannot_read(
    demo: ProfilePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    """A save that would pass the size msext reads is refused, whatever made it grow, so
    every command goes on working."""
    document = demo.config_file.read_text(encoding="utf-8")
    number = 1000
    while len(document) < MAX_CONFIG_BYTES - 200:
        document += f'[users.{number}.outlook]\nversion = "2024.2.{number:07}"\n'
        number += 1
    demo.config_file.write_text(document, encoding="utf-8")
    assert main(["--profile", "demo", "config", "check"]) in (0, 1)
    capsys.readouterr()
    code = main(["--profile", "demo", "config", "set", "users.99999.outlook.version", "x" * 250])
    err = capsys.readouterr().err
    assert code == 2 and "nothing saved" in err and err.count("\n") == 1
    assert main(["--profile", "demo", "config", "check"]) in (0, 1)


def test_an_oversized_file_can_be_shown_and_repaired(demo: ProfilePaths) -> None:
    """A file over the size every command reads (written by hand, or by an older msext)
    stops sync with one line naming the way out; `config show` still prints it and
    `config unset` shrinks it until it fits again."""
    filler = "".join(
        f'[users.{n}.outlook]\nversion = "2024.2.{n:07}"\n' for n in range(1000, 40000)
    )
    demo.config_file.write_text(demo.config_file.read_text(encoding="utf-8") + filler)
    assert demo.config_file.stat().st_size > MAX_CONFIG_BYTES
    refused = msext("sync", "--once")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "config unset" in refused.stderr
    shown = msext("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "larger than" in shown.stdout and "[users.39999.outlook]" in shown.stdout
    repaired = msext("config", "unset", "users")
    assert repaired.returncode == 0, repaired.stderr
    assert demo.config_file.stat().st_size < 10_000
    assert msext("config", "check").returncode in (0, 1)

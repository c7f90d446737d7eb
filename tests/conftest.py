"""Every test gets its own empty XDG directories, so profiles never leak between tests, and
every SOAP message an EWS emulator of this process sends or receives must match the official
schema: a test during which one does not fails, naming the element and the schema's words."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from engine.demo import create_demo_profile
from engine.paths import ProfilePaths
from engine.sandbox.ews.server import observing
from tests.ews_schema import SchemaWatch

DEMO_DAY = date(2026, 11, 24)
"""Every console test and screenshot sees the demo data of this day."""
XDG_DIRS = ("xdg_config_home", "xdg_data_home", "xdg_state_home")
EWS_SCHEMA_WATCH = SchemaWatch()


@pytest.fixture(scope="session", autouse=True)
def ews_schema_watch() -> Iterator[SchemaWatch]:
    """Every emulator's traffic, judged from the first session fixture on."""
    with observing(EWS_SCHEMA_WATCH):
        yield EWS_SCHEMA_WATCH


def _fail_on_invalid_ews() -> None:
    invalid = EWS_SCHEMA_WATCH.take()
    if invalid:
        shown = "\n".join(str(found)[:600] for found in invalid[:5])
        pytest.fail(
            f"{len(invalid)} EWS message(s) break the official schema:\n{shown}", pytrace=False
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test whose own steps passed fails on an invalid EWS message seen in setup or call."""
    outcome = yield
    _fail_on_invalid_ews()
    return outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if EWS_SCHEMA_WATCH.judged:
        terminalreporter.write_line(
            f"EWS schema: {EWS_SCHEMA_WATCH.judged} SOAP messages of the emulators judged"
            f" ({EWS_SCHEMA_WATCH.invalid_seen} invalid)"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    outcome = yield
    _fail_on_invalid_ews()
    return outcome


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in list(os.environ):
        if name.startswith("MSEXT_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo profile made once; each test gets a copy (making it takes seconds)."""
    root = tmp_path_factory.mktemp("demo-template")
    with pytest.MonkeyPatch.context() as patch:
        for name in XDG_DIRS:
            patch.setenv(name.upper(), str(root / name))
        create_demo_profile(ProfilePaths.for_profile("demo"), today=DEMO_DAY)
    return root


def copy_profiles(template: Path, isolated_dirs: Path) -> None:
    """Put the profiles of a template into this test's own XDG directories."""
    for name in XDG_DIRS:
        shutil.copytree(template / name, isolated_dirs / name, dirs_exist_ok=True)

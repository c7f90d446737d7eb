"""The engine stays headless: it imports neither the console nor textual.

(rich may be loaded with httpx, whose own command line uses it; the engine never does.)
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import engine


def test_import_contracts_hold() -> None:
    """import-linter's contract in pyproject.toml, checked on every run."""
    result = subprocess.run(["lint-imports"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_every_engine_module_loads_no_ui() -> None:
    modules = [info.name for info in pkgutil.walk_packages(engine.__path__, "engine.")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "ui = ('textual', 'console')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ui)\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

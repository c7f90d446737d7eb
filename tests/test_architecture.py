"""The engine stays headless: it imports neither the console nor textual; the console has
no import circle (screens depend on console.navigation, never on the app class); one
extension module's package never imports another's (they share only the parts beside them).

(rich may be loaded with httpx, whose own command line uses it; the engine never does.)
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import grimp

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


def import_circles(package: str) -> list[list[str]]:
    """The circles among a package's modules (type-checking imports count: they couple the
    modules all the same), each as its modules in order; Tarjan's strongly connected
    components over grimp's import graph."""
    graph = grimp.build_graph(package)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                circles.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return circles


def test_the_console_has_no_import_circle() -> None:
    assert import_circles("console") == []


def test_a_circle_is_found_where_there_is_one(tmp_path, monkeypatch) -> None:
    """The check itself can fail: two modules that import each other are one circle."""
    package = tmp_path / "circled"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circled import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from circled import a\n"
    )
    (package / "c.py").write_text("from circled import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles("circled") == [["circled.a", "circled.b"]]


MODULE_PACKAGES = {
    "engine": ("engine.exchange", "engine.adsync", "engine.teams"),
    "console": (
        "console.screens.exchange",
        "console.screens.outlook",
        "console.screens.adsync",
        "console.screens.teams",
    ),
}
"""Each extension module's own packages (those not written yet are skipped until they are)."""


def module_crossings(root: str, packages: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each (importer, imported) pair of module packages where the first imports the second
    directly, type-checking imports included."""
    graph = grimp.build_graph(root)
    present = [package for package in packages if package in graph.modules]
    return [
        (importer, imported)
        for importer in present
        for imported in present
        if importer != imported
        and graph.direct_import_exists(importer=importer, imported=imported, as_packages=True)
    ]


def test_no_module_package_imports_another() -> None:
    for root, packages in MODULE_PACKAGES.items():
        assert module_crossings(root, packages) == []


def test_a_crossing_is_found_where_there_is_one(tmp_path, monkeypatch) -> None:
    """The check itself can fail: a module package that imports another's is a crossing."""
    root = tmp_path / "crossed"
    for package in ("one", "two", "shared"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "one" / "reader.py").write_text("from crossed.shared import x\n")
    (root / "two" / "writer.py").write_text("from crossed.one import reader\n")
    (root / "shared" / "x.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_crossings("crossed", ("crossed.one", "crossed.two", "crossed.three")) == [
        ("crossed.two", "crossed.one")
    ]

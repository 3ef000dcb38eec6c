"""The functional core stays pure: no I/O, no clocks, no adapters imported into core/."""

from __future__ import annotations

import ast
from pathlib import Path

import lockerkey

CORE = Path(lockerkey.__file__).parent / "core"
FORBIDDEN_MODULES = {
    "asyncio",
    "os",
    "socket",
    "sqlite3",
    "subprocess",
    "threading",
    "time",
    "random",
    "uuid",
    "serial",
    "serial_asyncio_fast",
    "gspread",
    "evdev",
    "starlette",
    "fastapi",
    "pathlib",
    "lockerkey.store",
    "lockerkey.cabinet",
    "lockerkey.readers",
    "lockerkey.sync",
    "lockerkey.web",
    "lockerkey.app",
    "lockerkey.config",
    "lockerkey.cli",
}
CLOCK_METHODS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}
FORBIDDEN_BUILTINS = {"open", "print", "input"}


def _modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_no_io_and_reads_no_clock() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module in _modules(tree):
            bad = [f for f in FORBIDDEN_MODULES if module == f or module.startswith(f + ".")]
            assert not bad, f"{path.name} imports {module}"
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            where = f"{path.name}:{node.lineno}"
            if isinstance(func, ast.Attribute):
                assert func.attr not in CLOCK_METHODS, f"{where} reads a clock: .{func.attr}()"
            elif isinstance(func, ast.Name):
                assert func.id not in FORBIDDEN_BUILTINS, f"{where} calls {func.id}()"


def test_sql_lives_only_in_store() -> None:
    root = CORE.parent
    for path in root.rglob("*.py"):
        if path.parent.name == "store":
            continue
        text = path.read_text(encoding="utf-8")
        assert "sqlite3" not in text, f"{path.relative_to(root)} uses sqlite3"
        for keyword in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM"):
            assert keyword not in text, f"{path.relative_to(root)} contains SQL ({keyword})"

"""The layering drawn in docs/architecture.md, enforced: a new upward import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2]

# package -> the hotline packages it may import (besides itself). Tests may import anything.
ALLOWED: dict[str, set[str]] = {
    "lib": set(),
    "sim": {"lib"},
    "audit": {"lib"},
    "accounts": {"lib", "audit"},
    "reports": {"lib", "audit", "accounts"},
    "evidence": {"lib", "audit", "accounts", "reports"},
    "hashes": {"lib", "audit", "accounts", "reports", "evidence"},
    "assessment": {"lib", "audit", "accounts", "reports", "evidence", "hashes"},
    "tracing": {"lib", "audit", "accounts", "reports"},
    "mailintake": {"lib", "audit", "accounts", "reports", "evidence"},
    "partners": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing"},
    "routing": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners"},
    "takedown": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
                 "routing", "mailintake"},
    "cases": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
              "routing", "takedown"},
    "stats": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
              "routing", "takedown", "mailintake", "cases"},
    "retention": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
                  "routing", "takedown", "mailintake", "cases"},
    "demo": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "sim", "tracing",
             "partners", "routing", "takedown", "mailintake", "cases", "retention", "stats"},
    "core": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "demo", "sim", "tracing",
             "partners", "routing", "takedown", "mailintake", "cases", "retention", "stats"},
}
TOP_LEVEL = {"settings", "settings_test", "urls", "api", "wsgi", "cli", "conftest", "__init__"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "hotline" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_domains_only_import_downwards() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if "tests" in relative.parts or "migrations" in relative.parts or len(relative.parts) == 1:
            continue
        package = relative.parts[0]
        assert package in ALLOWED, f"new package hotline/{package}: add it to ALLOWED and to docs/architecture.md"
        upward = _imports(path) - ALLOWED[package] - {package} - TOP_LEVEL
        if upward:
            problems.append(f"{relative} imports {sorted(upward)}")
    assert problems == []


def test_every_top_level_module_is_known() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules <= TOP_LEVEL

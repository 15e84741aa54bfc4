"""The layering drawn in docs/architecture.md, enforced: a new upward import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

from hotline.core.archgraph import imported_packages

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
    "iccam": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
              "routing", "takedown"},
    "stats": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
              "routing", "takedown", "mailintake", "cases"},
    "retention": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "tracing", "partners",
                  "routing", "takedown", "mailintake", "cases"},
    "selfreferral": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "partners", "takedown"},
    "demo": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "sim", "tracing",
             "partners", "routing", "takedown", "mailintake", "cases", "retention", "stats", "iccam"},
    "core": {"lib", "audit", "accounts", "reports", "evidence", "hashes", "assessment", "demo", "sim", "tracing",
             "partners", "routing", "takedown", "mailintake", "cases", "retention", "stats", "iccam"},
}
TOP_LEVEL = {"settings", "settings_test", "urls", "api", "wsgi", "cli", "conftest", "__init__"}


def _product_modules() -> list[tuple[Path, Path]]:
    return [(path, path.relative_to(PACKAGE)) for path in sorted(PACKAGE.rglob("*.py"))
            if not {"tests", "migrations"} & set(path.relative_to(PACKAGE).parts)]


def test_domains_only_import_downwards() -> None:
    problems = []
    for path, relative in _product_modules():
        if len(relative.parts) == 1:
            continue
        package = relative.parts[0]
        assert package in ALLOWED, f"new package hotline/{package}: add it to ALLOWED and to docs/architecture.md"
        upward = imported_packages(path) - ALLOWED[package] - {package} - TOP_LEVEL
        if upward:
            problems.append(f"{relative} imports {sorted(upward)}")
    assert problems == []


def test_every_top_level_module_is_known() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules <= TOP_LEVEL


# State writes allowed outside a move function: path -> functions. The models with their own transition()
# method, and exceptions whose `status` is an HTTP status, not model state.
STATE_WRITES_ELSEWHERE: dict[str, set[str]] = {
    "cases/models.py": {"transition"},  # Case: its own table and transition()
    "reports/models.py": {"transition"},  # Item: TRANSITIONS and transition()
    "partners/models.py": {"transition"},  # Forward: its own table and transition()
    "partners/protocol.py": {"__init__"},  # ProtocolError.status, an HTTP status
    "takedown/respond.py": {"__init__"},  # an exception's HTTP status
    "iccam/client.py": {"__init__"},  # IccamError.status, an HTTP status
    "sim/iccam.py": {"__init__"},  # the simulator's refusal, an HTTP status
    "takedown/models.py": {"transition"},  # Takedown: its own table and transition()
    "iccam/services/writes.py": {"_as_claimed"},  # a claimed Push's copy set to what the claim's move wrote
}


def _state_writes(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of every `.update(state=/status=…)`, every claim that writes a state
    (`claim_due(…, update={"state": …})`) and every `x.state = / x.status =`."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and child.func.attr == "update"
                    and {k.arg for k in child.keywords} & {"state", "status"}):
                found.append((function, child.lineno))
            if isinstance(child, ast.keyword) and child.arg == "update" and isinstance(child.value, ast.Dict) and {
                    k.value for k in child.value.keys if isinstance(k, ast.Constant)} & {"state", "status"}:
                found.append((function, child.value.lineno))
            if isinstance(child, ast.Assign):
                targets = [e for t in child.targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
                if any(isinstance(t, ast.Attribute) and t.attr in ("state", "status") for t in targets):
                    found.append((function, child.lineno))
            visit(child, name)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def test_state_columns_change_only_through_their_move_functions() -> None:
    problems = []
    for path, relative in _product_modules():
        allowed = STATE_WRITES_ELSEWHERE.get(relative.as_posix(), set())
        problems += [f"{relative}:{line} in {function}()" for function, line in _state_writes(path)
                     if function not in allowed and not function.startswith("move")]
    assert problems == [], "write states with the model's move function (hotline/lib/states.py), not by hand"


def test_only_the_claim_helper_skips_locked_rows() -> None:
    """Claiming due rows has one implementation (hotline/lib/claim.py), with the one database branch."""
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if "tests" in relative.parts or relative.as_posix() == "lib/claim.py":
            continue
        if "skip_locked=True" in path.read_text(encoding="utf-8"):
            problems.append(str(relative))
    assert problems == [], "claim due rows with hotline.lib.claim.claim_due / skip_locked"


AUDIT_WRITERS = {"record", "record_many", "record_bulk"}


def _audit_calls(path: Path) -> list[tuple[int, ast.Call]]:
    """Every call of hotline.audit.services' writers in ``path``, under whatever name it was imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "hotline.audit.services":
            names |= {alias.asname or alias.name for alias in node.names if alias.name in AUDIT_WRITERS}
        if isinstance(node, ast.ImportFrom) and node.module == "hotline.audit":
            modules |= {alias.asname or alias.name for alias in node.names if alias.name == "services"}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Name) and func.id in names) or (
                isinstance(func, ast.Attribute) and func.attr in AUDIT_WRITERS
                and isinstance(func.value, ast.Name) and func.value.id in modules):
            found.append((node.lineno, node))
    return found


def _is_services(relative: Path) -> bool:
    return relative.name == "services.py" or "services" in relative.parts[:-1]


def test_audited_writes_live_in_services() -> None:
    """Services are the only place state changes: every audit event is written by a domain's services
    (``<domain>/services.py`` or the package ``<domain>/services/``); the audit domain writes its own."""
    problems = [f"{relative}:{line}" for path, relative in _product_modules() if relative.parts[0] != "audit"
                and not _is_services(relative) for line, _ in _audit_calls(path)]
    assert problems == [], "move these audited writes into the domain's services"


def test_audit_actions_are_named_constants() -> None:
    """An audit action is a constant of its domain's ``actions.py`` (one place to read every action a domain
    writes), never a string typed at the call."""
    problems = []
    for path, relative in _product_modules():
        for line, call in _audit_calls(path):
            action = call.args[1] if len(call.args) > 1 else next(
                (k.value for k in call.keywords if k.arg == "action"), None)
            if isinstance(action, ast.Constant | ast.JoinedStr):
                problems.append(f"{relative}:{line}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Change"
                    and node.args and isinstance(node.args[0], ast.Constant | ast.JoinedStr)):
                problems.append(f"{relative}:{node.lineno}")
    assert problems == [], "name the action in the domain's actions.py"


def test_worker_steps_live_in_steps_modules_with_one_signature() -> None:
    """Every worker step is ``<domain>/steps.py: x_step(*, now=None, ...) -> bool``: the worker, the
    simulation and the tests call every step the same way."""
    import inspect

    from django.conf import settings
    from django.utils.module_loading import import_string

    problems = []
    for dotted in settings.HOTLINE_WORKER_STEPS:
        module, _, name = dotted.rpartition(".")
        step = import_string(dotted)
        parameters = list(inspect.signature(step).parameters.values())
        keyword_only = all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
        now_first = bool(parameters) and parameters[0].name == "now" and parameters[0].default is None
        if not (module.endswith(".steps") and name.endswith("_step") and keyword_only and now_first
                and inspect.signature(step).return_annotation in (bool, "bool")):
            problems.append(dotted)
    assert problems == [], "steps: <domain>/steps.py, def x_step(*, now: datetime | None = None, ...) -> bool"

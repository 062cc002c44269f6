"""The house rules of docs/architecture.md that import-linter does not check by itself.

``make test`` runs ``lint-imports`` for the layer contracts in ``pyproject.toml``. These tests
add what a contract cannot say: no import cycle at all between modules, an import inside a
function only with a comment that says why, and docstrings on the public API.
"""
from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("miniapp_api", "bridges", "bench")


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph.modules or child.split(".")[0] not in PACKAGES:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles():
    """No two modules of ours import each other, directly or through others (any import)."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert _cycles(graph) == []


def _function_imports_without_reason(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    bad = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                here = lines[node.lineno - 1]
                above = lines[node.lineno - 2] if node.lineno >= 2 else ""
                if "#" not in here and not above.strip().startswith("#"):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {here.strip()}")
    return bad


def test_imports_inside_functions_say_why():
    """An import inside a function carries a comment (optional or heavy dependency)."""
    bad = []
    for path in _sources():
        bad.extend(_function_imports_without_reason(path))
    assert bad == []


def _public_definitions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(body, in_class: bool):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name.startswith("_"):
                    continue
                yield node
                if isinstance(node, ast.ClassDef):
                    yield from visit(node.body, True)

    yield from visit(tree.body, False)


def test_public_functions_and_classes_have_docstrings():
    """At least 90 % of public functions and classes say what they are for."""
    total = documented = 0
    missing = []
    for path in _sources():
        for node in _public_definitions(path):
            total += 1
            if ast.get_docstring(node):
                documented += 1
            else:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    share = documented / total
    assert share >= 0.90, f"{share:.0%} documented; first missing: {missing[:40]}"


def _layer_entries() -> list[str]:
    import tomllib  # the standard library's; only this test reads pyproject.toml

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    entries = []
    for layer in contract["layers"]:
        entries.extend(part.strip() for part in layer.replace("|", ":").split(":"))
    return entries


# Package ``__init__`` modules that hold no code of a layer (a docstring, or the lazy create_app).
PACKAGE_ROOTS = {"miniapp_api", "bridges", "bridges.dingtalk", "bridges.wechat", "bridges.fakes"}


def test_every_module_has_a_layer():
    """A new module is named in the layers contract, so no module escapes the rules."""
    entries = _layer_entries()
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    loose = []
    for module in sorted(graph.modules):
        if module.split(".")[0] not in PACKAGES or module in PACKAGE_ROOTS:
            continue
        if module.startswith("bridges.fakes."):
            continue  # the fakes have contracts of their own: only composition and tests use them
        if not any(module == entry or module.startswith(entry + ".") for entry in entries):
            loose.append(module)
    assert loose == []


def test_importing_the_domain_loads_neither_flask_nor_the_bridges():
    """The worker, the CLI and scripts reach a model without loading the web or the bridges."""
    import subprocess  # a fresh interpreter, so nothing this test process loaded counts
    import sys

    code = ("import sys, miniapp_api.reports.service, miniapp_api.deadlines.scheduler, miniapp_api.models; "
            "print(sorted(m for m in ('flask', 'werkzeug', 'bridges') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

"""Import layers of the package, read from the source with ast (imports inside functions count too).

Each rule is one row: ``CYCLES`` says no module reaches itself again; ``FORBIDDEN`` lists, per package prefix,
the imports it must never make, directly or not. A new layer rule is one more row.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"

# (importer prefix, imported prefix): no module under the first may reach a module under the second.
FORBIDDEN = [
    ("gateway.store", "starlette"),  # storage knows no HTTP
    ("gateway.store", "gateway.analytics"),  # storage sits below what reads it
    ("gateway.analytics", "starlette"),
    ("gateway.admin", "gateway.report"),  # routes never import the CLI
    ("gateway.api", "gateway.report"),
    # The per-request layers never reach the store, the database driver or the routes.
    *[(layer, target) for layer in ("gateway.middleware", "gateway.pipeline", "gateway.proxy", "gateway.plans",
                                    "gateway.visitor", "gateway.revocations", "gateway.accesslog", "gateway.linewriter")
      for target in ("gateway.store", "aiosqlite", "gateway.api", "gateway.admin", "gateway.app")],
    # The routes reach storage through the ConsentStore protocol, never a backend.
    *[("gateway.api", target) for target in ("gateway.store.sqlite", "gateway.store.memory", "aiosqlite")],
    # The rewrite package: bytes in, bytes out, from a ready plan.
    *[("gateway.rewrite", target) for target in ("starlette", "aiohttp", "uvicorn", "asyncio", "socket",
                                                 "gateway.store", "aiosqlite", "gateway.settings", "gateway.plans")],
    # The pure core knows no HTTP, no network and no storage.
    *[(core, target)
      for core in ("gateway.vocabulary", "gateway.consent", "gateway.decision", "gateway.signing", "gateway.vendors",
                   "gateway.csp", "gateway.settings", "gateway.trusted", "gateway.ratelimit")
      for target in ("starlette", "aiohttp", "uvicorn", "httpx", "asyncio", "socket", "gateway.store", "aiosqlite")],
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports_of(name: str) -> set[str]:
    """Every module ``name`` imports anywhere in its file: gateway modules by name, others by top package."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from gateway.store import schema` imports the submodule; `from gateway.store import X` the package.
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules() else base for a in node.names)
    return {imported if imported in modules() else imported.split(".")[0] for imported in found}


@cache
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(_imports_of(name)) for name in modules()}


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph()[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph().get(name, ()))
    return seen


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_walker_sees_imports_inside_functions_and_relative_ones() -> None:
    assert "gateway.report" in graph()["gateway.cli"]  # `from .report import add_commands` inside a function
    assert "gateway.app" in graph()["gateway"]  # `from .app import create_app` inside __getattr__
    assert "gateway.store.schema" in graph()["gateway.store.sqlite"]  # `from gateway.store import schema`
    assert "aiosqlite" in graph()["gateway.store.sqlite"]


def test_no_import_cycle_in_the_package() -> None:
    cycles = sorted(name for name in modules() if name in reachable(name))
    assert cycles == []


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN, ids=[f"{a}-/->{b}" for a, b in FORBIDDEN])
def test_a_layer_never_reaches_what_it_must_not(importer: str, imported: str) -> None:
    offenders = {
        name: sorted(target for target in reachable(name) if _under(target, imported))
        for name in modules() if _under(name, importer)
    }
    assert {name: found for name, found in offenders.items() if found} == {}

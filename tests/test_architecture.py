"""The shape of the code, checked: layers, the public surface api/ may use, no import
cycles, no function-level imports in locator/ (which could hide a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("locator", "api", "geodata", "locator_cli")

#: What each layer of locator/ may import from locator/ (prefixes).
LAYERS = {
    "locator.errors": (),
    "locator.config": (),
    "locator.arguments": ("locator.errors", "locator.config"),
    "locator.stations": ("locator.errors", "locator.config", "locator.stations"),
    "locator.network": ("locator.errors", "locator.config", "locator.arguments", "locator.network"),
    "locator.analysis": (
        "locator.errors",
        "locator.config",
        "locator.arguments",
        "locator.network",
        "locator.stations",
        "locator.analysis",
    ),
    "locator.artifact": (
        "locator.errors",
        "locator.config",
        "locator.arguments",
        "locator.network",
        "locator.stations",
        "locator.analysis",
        "locator.artifact",
    ),
}
#: The public surface: the only locator modules api/ may import.
PUBLIC = {"locator", "locator.errors", "locator.stations", "locator.config", "locator.arguments"}
#: Never imported by locator/ (the domain loads artifacts; it serves and builds nothing).
FOREIGN = ("api", "geodata", "locator_cli", "fastapi", "starlette", "uvicorn", "osmnx", "osmium")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at_module_level)`` for every import in a file."""
    tree = ast.parse(path.read_text("utf-8"))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, id(node) in top) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, id(node) in top))
            # "from locator import errors" imports a module too
            out.extend(
                (f"{node.module}.{a.name}", id(node) in top)
                for a in node.names
                if (ROOT / node.module.replace(".", "/") / f"{a.name}.py").is_file()
            )
    return out


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


MODULES = {_module_name(p): _imports(p) for pkg in PACKAGES for p in _files(pkg)}


def _own(name: str) -> str | None:
    """The locator module (or package) an import names, if it is one of ours."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def test_locator_imports_no_web_framework_and_nothing_above_it() -> None:
    for mod, imports in MODULES.items():
        if not mod.startswith("locator") or mod.startswith("locator_cli"):
            continue
        bad = [m for m, _ in imports if m.split(".")[0] in FOREIGN]
        assert not bad, (mod, bad)


#: Third-party modules locator/ may import inside a function, and why: psycopg takes
#: 150 ms to import and only a PostgreSQL station store needs it.
LAZY_THIRD_PARTY = {"psycopg"}


def test_no_function_level_imports_in_locator() -> None:
    for mod, imports in MODULES.items():
        if mod == "locator" or mod.startswith("locator."):
            inner = [m for m, top in imports if not top and m.split(".")[0] not in LAZY_THIRD_PARTY]
            assert not inner, (mod, inner)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_below_them(layer: str) -> None:
    allowed = LAYERS[layer]
    for mod, imports in MODULES.items():
        if mod != layer and not mod.startswith(layer + "."):
            continue
        for name, _ in imports:
            own = _own(name)
            if own is None or not own.startswith("locator"):
                continue
            assert any(own == a or own.startswith(a + ".") for a in allowed), (mod, own)


def test_api_uses_only_the_public_surface() -> None:
    for mod, imports in MODULES.items():
        if mod.split(".")[0] != "api":
            continue
        used = {_own(m) for m, _ in imports} - {None}
        private = {m for m in used if m and m.startswith("locator") and m not in PUBLIC}
        assert not private, (mod, sorted(private))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph (as a path that returns to its start), or None."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for mod in sorted(graph):
        if mod not in state:
            found = visit(mod, [mod])
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": {"d"}, "d": {"b"}}) == [
        "b",
        "c",
        "d",
        "b",
    ]


def test_no_import_cycles() -> None:
    """Module-level imports of our modules, cycle-free. Importing a submodule also runs
    its parent packages' ``__init__`` (an edge to each), except the top-level
    ``locator`` package, whose ``__init__`` only re-exports the public surface."""
    graph: dict[str, set[str]] = {}
    for mod, imports in MODULES.items():
        deps = set()
        for name, top in imports:
            own = _own(name)
            if own is None or not top or own in (mod, "locator"):
                continue
            deps.add(own)
            parent = own.rpartition(".")[0]
            while parent and parent != "locator":
                if parent in MODULES and parent != mod and not mod.startswith(parent + "."):
                    deps.add(parent)
                parent = parent.rpartition(".")[0]
        graph[mod] = deps
    assert find_cycle(graph) is None

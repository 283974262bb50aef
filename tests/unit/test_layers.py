"""The layout is the architecture: chalicelib's packages form layers, and
imports only point down (docs/architecture.md, "Layers").

Every import counts, including those inside functions, so a cycle cannot
hide behind a deferred import. Within a package, modules may use each
other, but without cycles.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"

# Lowest first. A module may import from lower layers and from its own
# package; packages side by side in one layer are independent of each other.
LAYERS = [
    ["chalicelib.settings", "chalicelib.errors"],
    ["chalicelib.observe"],
    ["chalicelib.storage"],
    ["chalicelib.accounts"],
    ["chalicelib.tweets"],
    ["chalicelib.home", "chalicelib.discovery", "chalicelib.notifications"],
    ["chalicelib.web", "chalicelib.events"],
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The chalicelib modules `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else node.module)
    return {name for name in found if name == "chalicelib" or name.startswith("chalicelib.")}


MODULES = {module_name(p): p for p in sorted(CHALICELIB.rglob("*.py"))}
IMPORTS = {name: imported_modules(path) for name, path in MODULES.items()}


def unit_of(module: str) -> str:
    """The layer entry a module belongs to (its package, or a top module)."""
    for layer in LAYERS:
        for unit in layer:
            if module == unit or module.startswith(unit + "."):
                return unit
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def layer_of(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_every_module_has_a_layer():
    for module in MODULES:
        if module != "chalicelib":
            unit_of(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "chalicelib"))
def test_imports_point_down(module):
    mine = unit_of(module)
    for target in sorted(IMPORTS[module]):
        if target == "chalicelib":
            continue
        theirs = unit_of(target)
        assert theirs == mine or layer_of(theirs) < layer_of(mine), \
            f"{module} imports {target}: {theirs} is not below {mine}"


def test_no_import_cycles():
    graph = {m: {t for t in IMPORTS[m] if t in MODULES and t != m} for m in MODULES}
    visiting, done = [], set()

    def visit(module):
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join(
            visiting[visiting.index(module):] + [module])
        visiting.append(module)
        for target in sorted(graph[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_domain_does_not_speak_http():
    """Only the HTTP edge knows Chalice and status codes."""
    edges = {"chalicelib.web", "chalicelib.events"}
    for module, path in MODULES.items():
        if module == "chalicelib" or unit_of(module) in edges:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                assert name.split(".")[0] != "chalice", f"{module} imports {name}"

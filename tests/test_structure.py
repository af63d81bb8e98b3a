"""The package's layering: one module imports the C++ extension, and the modules' top-level imports
form no cycle (read from the source with ast, so a lazy import cannot hide a circle it breaks)."""

from __future__ import annotations

import ast
from pathlib import Path

import fixedpoint

PKG = Path(fixedpoint.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = ("fixedpoint",) + rel.parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    out["fixedpoint._core"] = PKG / "_core.pyi"  # the extension (its stub stands in for the source)
    return out


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom, mods) -> list[str]:
    """The fixedpoint modules a ``from ... import ...`` statement reads: the submodules it names,
    else the module whose names it takes (a package's ``__init__`` runs before its submodules
    anyway, so ``from . import sub`` does not depend on the package)."""
    if node.level == 0:
        base = node.module or ""
    else:
        pkg = mod.split(".") if is_pkg else mod.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([node.module] if node.module else []))
    if not base.startswith("fixedpoint"):
        return []
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in mods]
    return subs if len(subs) == len(node.names) else subs + [base]


def _imports(top_level_only: bool) -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for mod, path in mods.items():
        if mod == "fixedpoint._core":
            graph[mod] = set()
            continue
        tree = ast.parse(path.read_text())
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        deps = set()
        for node in nodes:
            if isinstance(node, ast.ImportFrom):
                deps.update(d for d in _resolve(mod, path.name == "__init__.py", node, mods) if d in mods)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def test_only_the_backend_imports_the_extension():
    importers = sorted(m for m, deps in _imports(top_level_only=False).items() if "fixedpoint._core" in deps)
    assert importers == ["fixedpoint._backend"]


def test_production_does_not_use_the_reference_model():
    # the reference model checks production; only the package's tests and the oracle import it
    users = sorted(m for m, deps in _imports(top_level_only=False).items() if "fixedpoint._reference" in deps)
    assert users == []


def _no_cycle(graph: dict, modules: set) -> None:
    sub = {m: graph[m] & modules for m in modules}
    seen, done = set(), set()

    def visit(m, path):
        assert m not in seen or m in done, f"import cycle: {' -> '.join(path + [m])}"
        if m in done:
            return
        seen.add(m)
        for d in sorted(sub[m]):
            visit(d, path + [m])
        done.add(m)

    for m in sorted(modules):
        visit(m, [])


def test_scanners_import_no_cycle():
    # the two scanners, what they share, their cluster evaluators and fixedpoint.dask (which no
    # other module imports): any import, lazy or not
    models = {"fixedpoint.network", "fixedpoint.scanner", "fixedpoint._scanning", "fixedpoint._sharded",
              "fixedpoint.dask", "fixedpoint.hls4ml"}
    graph = _imports(top_level_only=False)
    assert models <= set(graph), sorted(models - set(graph))
    _no_cycle(graph, models)
    assert [m for m, deps in graph.items() if "fixedpoint.dask" in deps] == []


def test_core_modules_import_no_cycle():
    # the array core and the operations, whose circle issue 19 broke: any import, lazy or not
    core = {"fixedpoint.format", "fixedpoint._backend", "fixedpoint._storage", "fixedpoint.array",
            "fixedpoint.quantize", "fixedpoint._operands", "fixedpoint._arith", "fixedpoint._reduce",
            "fixedpoint._join", "fixedpoint._matmul", "fixedpoint.sparse", "fixedpoint._linalg",
            "fixedpoint._protocol", "fixedpoint._operators", "fixedpoint._header", "fixedpoint._pyint",
            "fixedpoint._plan"}
    graph = _imports(top_level_only=False)
    assert core <= set(graph), sorted(core - set(graph))
    _no_cycle(graph, core)


def test_no_module_level_import_cycle():
    graph = _imports(top_level_only=True)
    # submodules may import the package's names after it is set up: the package is left out
    _no_cycle(graph, set(graph) - {"fixedpoint"})

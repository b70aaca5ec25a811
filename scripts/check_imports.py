#!/usr/bin/env python3
"""Import cycles between our modules and between our packages (exit 1 when there is one).

    python scripts/check_imports.py [ROOT]

Every import statement counts, at module top or inside a function (a function-level import hides a
cycle, it does not remove it); imports under ``if TYPE_CHECKING:`` count too. Two graphs are checked:

  modules   autograder.runner -> autograder.result ...     no strongly connected component of size > 1
  packages  autograder -> quizzes -> reference             the layering of DESIGN.md; no cycle at all

The package graph uses the first two levels of a module name (``autograder.sandbox``,
``quizzes``, ``reference.mistakes``); a package importing its own parent package is not an edge.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("autograder", "quizzes", "reference")


def module_files(root: Path) -> dict[str, Path]:
    """{dotted module name: file} for every .py file of our packages under ``root``."""
    mods = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _targets(mods: dict[str, Path], current: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Our modules one import statement of ``current`` names (the nearest known module of each name)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            parts = current.split(".")
            if mods[current].name != "__init__.py":
                parts = parts[:-1]
            parts = parts[:len(parts) - (node.level - 1)]
            base = ".".join(parts + ([base] if base else []))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    out = []
    for name in names:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


def module_graph(root: Path) -> dict[str, set[str]]:
    """{module: modules it imports anywhere in its file}."""
    mods = module_files(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[m].update(t for t in _targets(mods, m, node) if t != m)
    return graph


def subpackages(root: Path) -> set[str]:
    """Second-level packages (``autograder.sandbox``, ``reference.mistakes``)."""
    return {".".join(p.relative_to(root).parts[:2]) for top in PACKAGES for p in (root / top).glob("*/__init__.py")}


def package_of(module: str, subs: set[str]) -> str:
    """The package a module belongs to: its second-level package when it has one, else its top."""
    two = ".".join(module.split(".")[:2])
    return two if two in subs else module.split(".")[0]


def package_graph(root: Path, graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """{package: packages it imports}; a package is a top-level package or one of its sub-packages."""
    subs = subpackages(root)
    out: dict[str, set[str]] = {}
    for m, targets in graph.items():
        src = package_of(m, subs)
        out.setdefault(src, set())
        for t in targets:
            dst = package_of(t, subs)
            # a sub-package using its parent's modules is layering inside one package, not a cycle
            if dst != src and not src.startswith(dst + ".") and not dst.startswith(src + "."):
                out[src].add(dst)
            out.setdefault(dst, set())
    return out


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one node (Tarjan, iterative), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def cycles(root: Path) -> dict[str, list[list[str]]]:
    """{"modules": [...], "packages": [...]}: the strongly connected components of each graph."""
    modules = module_graph(root)
    return {"modules": strongly_connected(modules), "packages": strongly_connected(package_graph(root, modules))}


def describe(graph: dict[str, set[str]], component: list[str]) -> str:
    """One line per edge inside a component: who imports whom."""
    members = set(component)
    return "\n".join(f"    {a} -> {b}" for a in component for b in sorted(graph.get(a, ())) if b in members)


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1])
    modules = module_graph(root)
    packages = package_graph(root, modules)
    bad = 0
    for kind, graph in (("module", modules), ("package", packages)):
        for comp in strongly_connected(graph):
            bad += 1
            print(f"{kind} cycle: {' <-> '.join(comp)}\n{describe(graph, comp)}")
    if not bad:
        print(f"no import cycles among {len(modules)} modules in {len(packages)} packages")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

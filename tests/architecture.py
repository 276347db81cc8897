"""Static analysis of ``src/smeftfm`` for the architecture tests: imports, layers, cycles, stage closures.

Everything is read with :mod:`ast` (no imports are executed), so the checks also run on a planted violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "smeftfm"

#: The declared layer order, lowest first: a module may import its own layer and the layers below it.
LAYERS = ("leaf", "physics", "data", "exchange", "fit", "models", "loop", "reports", "stages", "cli")
#: Top-level modules that form the leaf layer (they import nothing from the package but each other).
LEAF_MODULES = {"errors", "atomic", "progress", "device", "config", "tracking", "__init__"}


def module_name(src: Path, path: Path) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"] or [PACKAGE]
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "leaf"
    if parts[1] in LEAF_MODULES:
        return "leaf"
    return parts[1]


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    #: local name -> (module, symbol or None for a module object), for imports anywhere in the file
    imports: list[tuple[str, str | None, int, bool]] = field(default_factory=list)  # (module, symbol, line, lazy)


def _resolve(mod: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def load_modules(src: Path) -> dict[str, Module]:
    """Every module of the package under ``src`` (the folder holding ``smeftfm/``)."""
    out = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        name = module_name(src, path)
        mod = Module(name, path, ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py")
        top = {id(n) for n in mod.tree.body}
        for node in ast.walk(mod.tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(mod, node)
                if target.split(".")[0] != PACKAGE:
                    continue
                for alias in node.names:
                    mod.imports.append((target, alias.name, node.lineno, id(node) not in top))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        mod.imports.append((alias.name, None, node.lineno, id(node) not in top))
        out[name] = mod
    return out


def target_module(modules: dict[str, Module], module: str, symbol: str | None) -> str:
    """``from a.b import c``: the module a.b.c when it exists, else a.b."""
    if symbol and f"{module}.{symbol}" in modules:
        return f"{module}.{symbol}"
    return module


def import_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """module -> modules it imports (top-level and inside functions alike)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for m in modules.values():
        for module, symbol, _, _ in m.imports:
            t = target_module(modules, module, symbol)
            if t in modules and t != m.name:
                graph[m.name].add(t)
    return graph


def layering_violations(modules: dict[str, Module]) -> list[str]:
    """Imports that go up the declared order (or into an undeclared layer)."""
    out = []
    for m in modules.values():
        src_layer = layer_of(m.name)
        for module, symbol, line, _ in m.imports:
            t = target_module(modules, module, symbol)
            tgt_layer = layer_of(t)
            if src_layer not in LAYERS or tgt_layer not in LAYERS:
                out.append(f"{m.path.name}:{line}: {m.name} -> {t}: undeclared layer ({src_layer} / {tgt_layer})")
            elif LAYERS.index(tgt_layer) > LAYERS.index(src_layer):
                out.append(f"{m.name}:{line} imports {t}: layer '{src_layer}' may not import '{tgt_layer}' "
                           f"(order {' -> '.join(LAYERS)})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


# ------------------------------------------------------------------------------------------- stage closures
def _defs(mod: Module) -> dict[str, ast.AST]:
    return {n.name: n for n in mod.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _imports_in(mod: Module, nodes: Iterable[ast.AST]) -> dict[str, tuple[str, str | None]]:
    """Package names bound by the import statements within ``nodes``: local name -> (module, symbol)."""
    out: dict[str, tuple[str, str | None]] = {}
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.ImportFrom):
                target = _resolve(mod, n)
                if target.split(".")[0] == PACKAGE:
                    for a in n.names:
                        out[a.asname or a.name] = (target, a.name)
            elif isinstance(n, ast.Import):
                for a in n.names:
                    if a.name.split(".")[0] == PACKAGE:
                        out[a.asname or a.name] = (a.name, None)
    return out


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def params_keys(node: ast.AST) -> set[str]:
    """Dotted keys read as ``params.<section>`` or ``params.<section>.<key>`` inside ``node``."""
    out, inner = set(), set()
    for n in ast.walk(node):
        if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute)
                and isinstance(n.value.value, ast.Name) and n.value.value.id == "params"):
            out.add(f"{n.value.attr}.{n.attr}")
            inner.add(id(n.value))
    for n in ast.walk(node):
        if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "params"
                and id(n) not in inner):
            out.add(n.attr)
    # ``params.<section>.model_dump()`` reads the whole section
    return {k.split(".")[0] if k.split(".")[-1].startswith("model_") else k for k in out}


def closure(modules: dict[str, Module], start: Iterable[tuple[str, str | None]]) -> tuple[set[Path], set[str]]:
    """Files and params keys reachable from (module, symbol) entry points, following names symbol by symbol.

    A symbol pulls in the module-level code of its module (constants, registrations) and every name it uses:
    same-module definitions and imported symbols (a whole module when a module object is imported).
    """
    files: set[Path] = set()
    keys: set[str] = set()
    seen: set[tuple[str, str | None]] = set()
    todo = list(start)

    def resolve(module: str, symbol: str | None) -> tuple[str, str | None]:
        t = target_module(modules, module, symbol)
        return (t, None) if (t != module or symbol is None) else (module, symbol)

    while todo:
        item = todo.pop()
        if item in seen or item[0] not in modules:
            continue
        seen.add(item)
        mname, sym = item
        mod = modules[mname]
        files.add(mod.path)
        defs = _defs(mod)
        top = [n for n in mod.tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        top_imports = _imports_in(mod, top)
        plain = [n for n in mod.tree.body if n.__class__ not in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                                                  ast.Import, ast.ImportFrom)]
        if sym is None:
            nodes = list(mod.tree.body)
        elif sym == "<module>":
            nodes = plain
        elif sym in defs:
            nodes = [defs[sym]]
            todo.append((mname, "<module>"))
        else:  # a constant or a re-exported name
            nodes = []
            todo.append((mname, "<module>"))
            if sym in top_imports:
                todo.append(resolve(*top_imports[sym]))
        for node in nodes:
            keys |= params_keys(node)
            bound = top_imports | _imports_in(mod, [node])
            for name in _names(node):
                if name in defs and (mname, name) != item:
                    todo.append((mname, name))
                elif name in bound:
                    todo.append(resolve(*bound[name]))
            for module, symbol in _imports_in(mod, [node]).values():
                todo.append(resolve(module, symbol))
    return files, keys


def cli_entry_points(modules: dict[str, Module]) -> dict[str, list[tuple[str, str]]]:
    """CLI command name -> the stage functions it runs (the lazy ``from .stages.x import run_y`` in its body)."""
    cli = modules[f"{PACKAGE}.cli"]
    out = {}
    for node in cli.tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        name = None
        for d in node.decorator_list:
            if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command":
                name = d.args[0].value if d.args else node.name
        if name is None:
            continue
        entries = []
        for n in ast.walk(node):
            if isinstance(n, ast.ImportFrom):
                target = _resolve(cli, n)
                if ".stages." in target:
                    entries += [(target, a.name) for a in n.names if a.name.startswith("run_")]
        out[name.replace("_", "-")] = entries
    return out


def covered(path: Path, root: Path, deps: list[str]) -> bool:
    rel = path.relative_to(root).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def key_covered(key: str, listed: list[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in listed)


def long_functions(folder: Path, limit: int) -> list[tuple[str, int]]:
    """Functions and methods defined in the modules of ``folder`` (nested ones count toward their parent) whose
    source spans more than ``limit`` lines, from ``def`` (decorators excluded) to the last line, as
    (``file.py:name``, lines)."""
    out = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nodes += [f for c in tree.body if isinstance(c, ast.ClassDef) for f in c.body
                  if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
        for n in nodes:
            lines = (n.end_lineno or n.lineno) - n.lineno + 1
            if lines > limit:
                out.append((f"{path.name}:{n.name}", lines))
    return out

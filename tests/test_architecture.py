"""The package layers test themselves: layering, import cycles, and DVC dependencies complete by construction.

Layer order (lowest first): leaf utilities (errors, atomic, progress, device, config, tracking) -> physics ->
data -> models -> loop -> reports -> stages -> cli. A module may import its own layer and the ones below.
The checks are static (``tests/architecture.py``), so a planted violation fails them without being imported.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from smeftfm.config import Params

from .architecture import (
    LAYERS,
    cli_entry_points,
    closure,
    covered,
    cycles,
    import_graph,
    key_covered,
    layering_violations,
    load_modules,
    long_functions,
)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
#: Modules a stage runs that do not shape its outputs' content, hence not DVC deps: argument parsing (cli),
#: error types, MLflow logging, progress bars, atomic file moves, the device pick, and the params *schema*
#: (the values reach DVC through each stage's ``params``).
INFRASTRUCTURE = {"cli.py", "errors.py", "tracking.py", "progress.py", "atomic.py", "device.py", "config.py",
                  "__init__.py"}


@pytest.fixture(scope="module")
def modules():
    return load_modules(SRC)


def test_every_module_is_in_a_declared_layer_and_no_import_goes_up(modules):
    assert len(modules) > 50
    assert {m.split(".")[1] for m in modules if m.count(".") >= 2} <= set(LAYERS)
    violations = layering_violations(modules)
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


def test_no_import_cycles(modules):
    found = cycles(import_graph(modules))
    assert not found, "import cycles (module groups that import each other):\n" + "\n".join(map(str, found))


def _stages():
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", list(_stages()))
def test_dvc_stage_deps_cover_the_code_and_params_it_runs(modules, stage):
    spec = _stages()[stage]
    command = spec["cmd"].split()[1]
    entries = cli_entry_points(modules).get(command)
    assert entries, f"stage {stage}: `smeftfm {command}` runs no stage function (from .stages.x import run_y)"
    files, keys = closure(modules, entries)
    deps = [d for d in spec.get("deps", []) if d.startswith("src/")]
    missing = sorted(f.relative_to(ROOT).as_posix() for f in files
                     if f.name not in INFRASTRUCTURE and not covered(f, ROOT, deps))
    listed = [p if isinstance(p, str) else next(iter(p)) for p in spec.get("params", [])]
    unread = sorted(k for k in keys if k.split(".")[0] in Params.model_fields and not key_covered(k, listed))
    assert not missing and not unread, (
        f"dvc.yaml stage '{stage}' runs code or reads params it does not depend on; add to its deps: {missing}; "
        f"to its params: {unread}")


#: Modules allowed without ``__all__``: none (every public module declares its API; packages' __init__ excepted).
WITHOUT_ALL: set[str] = set()


def test_public_modules_declare_all_and_it_names_real_objects(modules):
    import ast

    lacking = set()
    for m in modules.values():
        if m.path.name == "__init__.py":
            continue
        rel = m.path.relative_to(SRC / "smeftfm").as_posix()
        decl = [n for n in m.tree.body if isinstance(n, ast.Assign)
                and any(getattr(t, "id", None) == "__all__" for t in n.targets)]
        if not decl:
            lacking.add(rel)
            continue
        names = ast.literal_eval(decl[0].value)
        defined = {getattr(n, "name", None) for n in m.tree.body} | {
            t.id for n in m.tree.body if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)} | {
            a.asname or a.name for n in m.tree.body if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
        assert set(names) <= defined, (rel, sorted(set(names) - defined))
    assert lacking <= WITHOUT_ALL, f"modules without __all__: {sorted(lacking - WITHOUT_ALL)}"


#: Stage functions only wire (read inputs, call library functions, write outputs and metrics): at most this many
#: lines each, ``def`` to last line.
MAX_STAGE_LINES = 40
#: Stage functions allowed to be longer, each with its owner (none: ``run_informer`` wires
#: ``models/informer_study.py`` since issue 12).
LONG_STAGES_ALLOWED: set[str] = set()


def test_stage_functions_only_wire():
    found = long_functions(SRC / "smeftfm" / "stages", MAX_STAGE_LINES)
    over = [f"{name} ({n} lines)" for name, n in found if name not in LONG_STAGES_ALLOWED]
    assert not over, (f"stage functions over {MAX_STAGE_LINES} lines (move the logic into the library layers and "
                      f"keep the stage to wiring): {over}")

"""End-to-end: the real ``dvc repro`` on tiny parameters, incremental re-runs, push/pull and MLflow runs.

The first ``dvc repro`` runs once per session in the ``tiny_pipeline`` fixture (tests/conftest.py). This test
works on its own copy of that repository, so it runs whatever stages ``dvc.yaml`` holds (the other helpers'
train/heads/informer/loop/report stages included) without naming them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

MY_STAGES = ("universes", "spectra", "corpus", "events")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SMEFTFM_TRACKING", None)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["SMEFTFM_PIPELINE_ID"] = "tiny-e2e"
    return env


def _dvc(repo: Path, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, env=_env(), capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res.stdout + res.stderr


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def _uncached(repo: Path) -> set[str]:
    """Outputs declared with ``cache: false`` in dvc.yaml (metrics kept in git, not in the DVC cache)."""
    out = set()
    for stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for item in stage.get(kind, []):
                if isinstance(item, dict):
                    out |= {path for path, opts in item.items() if (opts or {}).get("cache") is False}
    return out


def _outs(repo: Path) -> list[Path]:
    """Every cached output recorded in dvc.lock (files and directories)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    skip = _uncached(repo)
    outs = []
    for stage in lock["stages"].values():
        outs += [repo / o["path"] for o in stage.get("outs", []) if o["path"] not in skip]
    return outs


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _stage_names(repo: Path) -> list[str]:
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


def _paths(items) -> list[str]:
    out = []
    for item in items or []:
        out += list(item) if isinstance(item, dict) else [str(item)]
    return out


def _expected_reruns(repo: Path, section: str, key: str) -> set[str]:
    """Stages that read ``section.key`` (or the whole section), plus everything downstream of their outputs."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    params = {name: _paths(st.get("params")) for name, st in stages.items()}
    hit = {name for name, ps in params.items() if section in ps or f"{section}.{key}" in ps}
    outs = {name: _paths(st.get("outs")) + _paths(st.get("metrics")) + _paths(st.get("plots"))
            for name, st in stages.items()}
    deps = {name: [str(d) for d in st.get("deps", [])] for name, st in stages.items()}

    def feeds(a: str, b: str) -> bool:
        return any(d == o or d.startswith(o.rstrip("/") + "/") or o.startswith(d.rstrip("/") + "/")
                   for o in outs[a] for d in deps[b])

    changed = True
    while changed:
        new = {b for b in stages if b not in hit and any(feeds(a, b) for a in hit)}
        changed = bool(new)
        hit |= new
    return hit


def test_pipeline_repro_incremental_push_pull_and_mlflow(tiny_pipeline, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(tiny_pipeline, repo, symlinks=True)
    stages = _stage_names(repo)
    assert set(MY_STAGES) <= set(stages)

    # every stage ran once and logged one MLflow run tagged with its stage, commit and pipeline id
    with sqlite3.connect(repo / "mlflow.db") as db:
        tags = db.execute("select run_uuid, key, value from tags").fetchall()
    by_run: dict[str, dict[str, str]] = {}
    for run, key, value in tags:
        by_run.setdefault(run, {})[key] = value
    logged = {t.get("stage") for t in by_run.values() if t.get("pipeline_id") == "tiny-e2e"}
    assert set(stages) <= logged, f"stages without an MLflow run: {sorted(set(stages) - logged)}"
    assert all(t.get("git_commit", "unknown") != "unknown" for t in by_run.values() if "stage" in t)

    # a second repro does nothing
    assert _ran(_dvc(repo, "repro")) == set()
    assert "up to date" in _dvc(repo, "status")

    # one parameter (events.seed): exactly the stages that read it and their downstream stages re-run
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["events"]["seed"] += 1
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    expected = _expected_reruns(repo, "events", "seed")
    assert "events" in expected and not expected & {"screen", "templates", "universes", "spectra", "corpus"}
    ran = _ran(_dvc(repo, "repro"))
    assert ran == expected, (ran, expected)

    # push to a fresh local remote, delete cache and outputs, pull: byte-identical and clean
    remote = tmp_path / "remote"
    _dvc(repo, "remote", "add", "-f", "e2e", str(remote))
    _dvc(repo, "push", "-r", "e2e")
    outs = _outs(repo)
    before = _digest(outs)
    assert any("corpus" in k for k in before) and any("events.parquet" in k for k in before)
    shutil.rmtree(repo / ".dvc" / "cache")
    for p in outs:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    _dvc(repo, "pull", "-r", "e2e")
    assert _digest(outs) == before
    status = _dvc(repo, "status")
    assert "up to date" in status, status

"""Shared test set-up: PDF path, MLflow off by default, tiny helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_PDFS = ROOT.parent / "shared" / "pdfsets"

if "LHAPDF_DATA_PATH" not in os.environ and SHARED_PDFS.is_dir():
    os.environ["LHAPDF_DATA_PATH"] = str(SHARED_PDFS)
# Unit tests do not talk to MLflow unless a test opts in (see the tracking tests).
os.environ.setdefault("SMEFTFM_TRACKING", "off")
os.environ.setdefault("SMEFTFM_QUIET", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def _copy_project(dst: Path) -> None:
    """Copy the project's source tree (not the venv, data, models or run stores) into ``dst``."""
    import shutil

    skip = {".venv", "data", "models", "mlartifacts", "mlruns", "reports", ".git", ".pytest_cache",
            ".ruff_cache", "benchmarks"}

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory).resolve() == ROOT
        out = {n for n in names if n in {"__pycache__", "mlflow.db"} or n.startswith(".tmp-")}
        if top:
            out |= {n for n in names if n in skip}
        return out

    shutil.copytree(ROOT, dst, ignore=ignore, dirs_exist_ok=True)
    # the published measurements are small files in git (data/measurements), read by the fit stage
    shutil.copytree(ROOT / "data" / "measurements", dst / "data" / "measurements", dirs_exist_ok=True)
    # the copy has its own DVC cache: a developer's `.dvc/config.local` (e.g. a shared cache.dir) must not leak in,
    # or DVC restores stage outputs from that cache and the stages never run (nor log their MLflow runs)
    (dst / ".dvc" / "config.local").unlink(missing_ok=True)
    (dst / ".dvc" / "cache").mkdir(exist_ok=True)


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory) -> Path:
    """A copy of the project that ran the real ``dvc repro`` on ``tests/fixtures/params_tiny.yaml``.

    Shared by the end-to-end, report and MLflow-server tests so that the tiny pipeline runs once per session.
    The copy has its own git repository, DVC cache and MLflow store (``mlflow.db`` inside the copy).
    """
    import shutil
    import subprocess
    import sys

    repo = tmp_path_factory.mktemp("tiny") / "repo"
    _copy_project(repo)
    shutil.copy(ROOT / "tests" / "fixtures" / "params_tiny.yaml", repo / "params.yaml")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SMEFTFM_TRACKING", None)  # the pipeline logs to MLflow like a real run
    env.pop("MLFLOW_TRACKING_URI", None)
    env["SMEFTFM_PIPELINE_ID"] = "tiny-e2e"
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for cmd in (["git", "init", "-q"], git + ["add", "-A"], git + ["commit", "-qm", "tiny"]):
        subprocess.run(cmd, cwd=repo, check=True, env=env)
    res = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"dvc repro failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    return repo

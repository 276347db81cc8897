"""The one place that talks to MLflow.

Every pipeline stage opens a run with :func:`stage_run`; runs are tagged with the stage name, the git commit
and a *pipeline id* so that the stages of one ``dvc repro`` group together in ``mlflow ui`` (filter on
``tags.pipeline_id``). The default store is ``sqlite:///mlflow.db`` at the project root with artifacts in
``mlartifacts/``; ``MLFLOW_TRACKING_URI`` overrides it. ``SMEFTFM_PIPELINE_ID`` overrides the pipeline id,
which otherwise is a hash of the git commit and ``params.yaml`` (identical for all stages of one repro).
Set ``SMEFTFM_TRACKING=off`` to run a stage without MLflow (e.g. in unit tests).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EXPERIMENT", "StageRun", "artifact_root", "enabled", "git_commit", "git_dirty", "log_torch_model",
           "pipeline_id", "project_root", "setup_mlflow", "stage_run", "tracking_uri"]

EXPERIMENT = "smeftfm"
_log = logging.getLogger(__name__)


def project_root() -> Path:
    """The directory holding ``dvc.yaml`` (walking up from the working directory), else the cwd."""
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "dvc.yaml").exists() or (p / ".dvc").is_dir():
            return p
    return here


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def artifact_root() -> str:
    return (project_root() / "mlartifacts").as_uri()


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root(), capture_output=True, text=True, timeout=10
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def git_dirty() -> str:
    """"true" when tracked files differ from the commit (the run's code is not exactly ``git_commit``)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_root(), capture_output=True,
            text=True, timeout=10,
        )
        return ("true" if out.stdout.strip() else "false") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def pipeline_id() -> str:
    """Shared by all stages of one ``dvc repro``: $SMEFTFM_PIPELINE_ID or hash(commit, params.yaml)."""
    env = os.environ.get("SMEFTFM_PIPELINE_ID")
    if env:
        return env
    h = hashlib.sha256(git_commit().encode())
    params = project_root() / "params.yaml"
    if params.exists():
        h.update(params.read_bytes())
    return h.hexdigest()[:12]


def enabled() -> bool:
    return os.environ.get("SMEFTFM_TRACKING", "on").lower() not in {"off", "0", "false", "no"}


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


class StageRun:
    """Handle given to a stage: log params, metrics, dicts, files and models to the active run."""

    def __init__(self, mlflow_module, run):
        self._mlflow = mlflow_module
        self.run = run

    @property
    def run_id(self) -> str | None:
        return self.run.info.run_id if self.run is not None else None

    def log_params(self, params: Mapping[str, Any]) -> None:
        if self._mlflow is None:
            return
        flat = {k: (json.dumps(v) if isinstance(v, list | tuple) else v) for k, v in _flatten(params).items()}
        items = list(flat.items())
        for i in range(0, len(items), 100):
            self._mlflow.log_params({k: str(v)[:6000] for k, v in items[i : i + 100]})

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self._mlflow is None:
            return
        clean = {k: float(v) for k, v in _flatten(metrics).items() if isinstance(v, int | float)}
        if clean:
            self._mlflow.log_metrics(clean, step=step)

    def log_dict(self, obj: Any, name: str) -> None:
        if self._mlflow is not None:
            self._mlflow.log_dict(obj, name)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        if self._mlflow is not None and Path(path).exists():
            self._mlflow.log_artifact(str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if self._mlflow is not None:
            self._mlflow.set_tags({k: str(v) for k, v in tags.items()})

    @property
    def mlflow(self):
        """The mlflow module (None when tracking is off), for model logging and tracing by the stage helpers."""
        return self._mlflow


def setup_mlflow():
    """Import and configure mlflow (tracking URI, experiment with artifacts under mlartifacts/)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_DESTINATION_LOGGING", "false")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is None:
        with contextlib.suppress(Exception):  # a concurrent stage may have created it
            mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_root())
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


@contextlib.contextmanager
def stage_run(stage: str, params: Mapping[str, Any] | None = None) -> Iterator[StageRun]:
    """Open an MLflow run for one pipeline stage, tagged with stage, git commit and pipeline id."""
    if not enabled():
        yield StageRun(None, None)
        return
    mlflow = setup_mlflow()
    pid = pipeline_id()
    tags = {"stage": stage, "pipeline_id": pid, "git_commit": git_commit(), "git_dirty": git_dirty(),
            "mlflow.runName": f"{stage}-{pid}"}
    with mlflow.start_run(run_name=f"{stage}-{pid}", tags=tags) as run:
        handle = StageRun(mlflow, run)
        if params:
            handle.log_params(params)
        yield handle




# ---------------------------------------------------------------------------------------------------------
# Model logging (models helper: `train` stage). Kept separate from the run plumbing above.
# ---------------------------------------------------------------------------------------------------------
def log_torch_model(run: StageRun, model, name: str, input_example, registered_name: str | None = None) -> None:
    """Log a torch module as an MLflow model with a signature inferred from ``input_example`` (numpy).

    The module is registered as ``registered_name`` when given. The pip requirements are pinned explicitly
    (torch, numpy) so that MLflow does not spawn a subprocess to infer them. No-op when tracking is off.
    """
    mlflow = run.mlflow
    if mlflow is None:
        return
    import mlflow.pytorch  # noqa: F401  (registers the flavour on the configured module)
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    with torch.no_grad():
        out = model(torch.as_tensor(input_example)).cpu().numpy()
    signature = infer_signature(np.asarray(input_example), out)
    mlflow.pytorch.log_model(
        model, name=name, signature=signature, input_example=np.asarray(input_example),
        registered_model_name=registered_name,
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"],
    )

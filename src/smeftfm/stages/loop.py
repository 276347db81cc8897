"""The ``loop`` (ALETHEIA) and ``informer`` (ManifoldInformer) stages.

``loop``: probe and validation events from the SM, exact per-event log-likelihood ratios, the complete-then-expand
loop for every acquisition arm, the controls, the dictionary-extension variant and the coefficient-box scan. Writes
``data/loop/trace.parquet`` (the arms), ``data/loop/variants.parquet`` (controls, variants, scan),
``reports/loop_table.md`` (Table-2 format, beside the paper) and ``reports/metrics/loop.json``; each cycle is an
``aletheia.cycle`` span in MLflow Tracing (and OTLP when configured).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from ..atomic import json_safe, write_json, write_text
from ..config import Params
from ..errors import DataError, SmeftfmError
from ..loop.controller import Tier
from ..loop.outputs import log_study, traced_runner, write_traces
from ..loop.pipeline import run_study
from ..loop.study import build_draw, oracle_side, settings_from_params  # noqa: F401  (re-exported for benchmarks)
from ..loop.tracing import LoopTracer
from ..physics.operators import resolve
from ..physics.oracle import oracle_from_params
from ..reports.loop_table import loop_table_markdown
from ..tracking import stage_run

__all__ = ["build_draw", "oracle_side", "run_informer", "run_loop", "settings_from_params", "tiers_from_screen"]


# ------------------------------------------------------------------------------------------------ tiers
def tiers_from_screen(params: Params, screen_json: Path | None) -> tuple[Tier, ...]:
    """Leading and subleading tiers from ``params.loop``, checked against the screening output's tiers."""
    lp = params.loop
    leading, subleading = resolve(lp.leading), resolve(lp.subleading)
    if screen_json is not None:
        if not Path(screen_json).exists():
            raise DataError(f"screening output {screen_json} not found; run `smeftfm screen` first (or `dvc repro`)")
        try:
            table = json.loads(Path(screen_json).read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{screen_json} is not valid JSON ({err}); re-run `smeftfm screen`") from None
        for tier, ops in (("leading", leading), ("subleading", subleading)):
            for op in ops:
                row = table.get(op)
                if row is None or not row.get("interferes", False):
                    raise SmeftfmError(f"loop.{tier} lists {op}, which the screening finds not interfering; "
                                       f"pick interfering operators from {screen_json}")
                if row.get("tier") != tier:
                    raise SmeftfmError(f"loop.{tier} lists {op}, but the screening puts it in tier "
                                       f"'{row.get('tier')}'; move it to loop.{row.get('tier')}")
    tiers = [Tier("leading", tuple(leading))]
    if subleading:
        tiers.append(Tier("subleading", tuple(subleading)))
    return tuple(tiers)


def run_loop(params: Params, screen_json: Path | None, out_dir: Path, table_path: Path, metrics_path: Path,
             scorecard_path: Path | None = None, informer_dir: Path | None = None,
             informer_metrics_path: Path | None = None) -> dict:
    """The ``loop`` stage: :func:`smeftfm.loop.pipeline.run_study`, then traces, tables and metrics on disk."""
    tiers = tiers_from_screen(params, screen_json)
    informer_metrics = _read_json(informer_metrics_path) if informer_metrics_path is not None else None
    with stage_run("loop", {"loop": params.loop.model_dump(), "physics": params.physics.model_dump()}) as run:
        t0 = time.perf_counter()
        blas = threadpool_limits(limits=1, user_api="blas")  # small matrices: one BLAS thread avoids oversubscription
        tracer = LoopTracer(run.mlflow, run.run.info.experiment_id if run.run is not None else None, run_id=run.run_id)
        study = run_study(params, tiers, traced_runner(tracer), informer_dir, informer_metrics)
        tracer.shutdown()
        blas.restore_original_limits()
        metrics = json_safe({**study.metrics, "seconds": {**study.metrics["seconds"],
                                                             "stage": time.perf_counter() - t0}})
        write_traces(study, tiers, params.loop.floor, out_dir)
        write_text(table_path, loop_table_markdown(study))
        write_json(metrics_path, metrics)
        if scorecard_path is not None:
            write_json(scorecard_path, json_safe(study.scorecard))
        log_study(run, study, metrics)
        run.log_artifact(table_path)
        run.log_artifact(metrics_path)
    return metrics


def _read_json(path: Path) -> dict:
    if not Path(path).exists():
        raise DataError(f"{path} not found; run `smeftfm informer` first (or `dvc repro informer`)")
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); re-run `smeftfm informer`") from None


# ------------------------------------------------------------------------------------------------ informer
def run_informer(params: Params, out_dir: Path, metrics_path: Path) -> dict:
    """The ``informer`` stage: :func:`smeftfm.models.informer_study.run_informer_study` over ``informer.seeds``.

    Writes ``models/informer/`` (one state dict per seed, snapshots ``_step{k}`` with step 0 = untrained, the
    JEPA-only companions under ``jepa/``, ``config.json``) and ``reports/metrics/informer.json``.
    """
    from ..device import pick_device
    from ..models.informer_study import run_informer_study, save_informer_study

    ops = tuple(resolve(params.loop.leading)) + tuple(resolve(params.loop.subleading))
    with stage_run("informer", {"informer": params.informer.model_dump(), "operators": list(ops)}) as run:
        study = run_informer_study(oracle_from_params(params, ops), params.informer, pick_device())
        save_informer_study(study, out_dir)
        metrics = json_safe(study.metrics)
        write_json(metrics_path, metrics)
        for seed, hist in study.histories.items():
            for h in hist:
                run.log_metrics({f"seed{seed}_loss": h["loss"], f"seed{seed}_pred": h["pred"]}, step=h["step"])
        run.log_metrics({"tangent_r2_min": metrics["tangent_r2_min"], "seconds": metrics["seconds"]["total"],
                         "tangent_r2_min_learned_only": metrics["tangent_r2_min_learned_only"]})
        run.log_artifact(metrics_path)
    return metrics

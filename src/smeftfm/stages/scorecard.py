"""The ``scorecard`` stage: `paper` and `recommended` configurations graded against the oracle's exact optimum.

Writes ``reports/metrics/scorecard.json`` (the contract of issue 11: exactly its keys, null for a configuration
that did not finish), ``reports/metrics/evaluation.json`` (baselines, both retrieval readings, the strength scan
in physical units, timings) and ``data/scorecard/`` (per-strength AUROC curves for the report).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_dir, write_json
from ..config import Params
from ..data.parquet_io import write_parquet
from ..errors import SmeftfmError
from ..tracking import stage_run

__all__ = ["run_scorecard", "scenario_name"]

_log = logging.getLogger(__name__)


def scenario_name(params: Params) -> str:
    """``L_eff`` (the paper's N-event calibration) or the desired luminosity, e.g. ``140/fb``."""
    lumi = params.corpus.luminosity_fb
    return "L_eff" if lumi is None else f"{lumi:g}/fb"


def run_scorecard(params: Params, corpus_dir: Path, spectra: Path, universes: Path, templates: Path, joint: Path,
                  model_dir: Path, out_dir: Path, metrics_path: Path, details_path: Path) -> dict:
    """Build the evaluation data once, score both configurations and their baselines, write the outputs."""
    from ..models.evaluation import build_eval_data, paper_config, recommended_config, score_config

    sp = params.scorecard
    with stage_run("scorecard", {"scorecard": sp.model_dump(), "corpus": params.corpus.model_dump()}) as run:
        t0, c0 = time.perf_counter(), time.process_time()
        ev, ctx = build_eval_data(params, corpus_dir, spectra, universes, templates, joint)
        timings = {"eval_data_seconds": time.perf_counter() - t0, "eval_data_cpu_seconds": time.process_time() - c0}
        configs = {"paper": lambda: paper_config(model_dir, ev),
                   "recommended": (lambda: recommended_config(params, ev, ctx)) if sp.recommended.enabled else None}
        scan = [{"signal": sig, **info} for sig, per in ctx["strengths"].items() for info in per.values()]
        card, details, curves = {}, {"strengths": ctx["strengths"], "strength_table": scan, "nu": ctx["nu"]}, []
        for name, build in configs.items():
            t1, c1 = time.perf_counter(), time.process_time()
            if build is None:
                card[name], details[name] = None, {"skipped": "scorecard.recommended.enabled is false"}
                continue
            try:
                entry, det, cur = score_config(name, build(), ev, scenario_name(params))
            except SmeftfmError as err:  # a configuration that does not finish is null, never a number
                _log.error("scorecard configuration %s failed: %s", name, err)
                card[name], details[name] = None, {"error": str(err)}
                continue
            card[name], details[name] = entry, det
            curves.append(cur)
            timings[f"{name}_seconds"] = time.perf_counter() - t1
            timings[f"{name}_cpu_seconds"] = time.process_time() - c1
        timings["total_cpu_seconds"] = time.process_time() - c0  # this process; wall times depend on machine load
        details["timings"] = timings
        write_json(metrics_path, card)
        write_json(details_path, details)
        with atomic_dir(out_dir) as tmp:
            frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
            write_parquet(frame, tmp / "anomaly_curves.parquet", {"units": ctx["units"]})
        run.log_metrics({"seconds": time.perf_counter() - t0})
        run.log_artifact(metrics_path)
    return {"scorecard": card, "details": details, "seconds": time.perf_counter() - t0,
            "n_signals": int(np.sum([len(v) for v in ctx["strengths"].values()]))}

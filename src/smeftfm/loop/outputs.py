"""The ``loop`` stage's outputs: the traced loop runner, the trace tables and the MLflow summary of a study.

``trace.parquet`` holds the acquisition arms (residual energy, EPIG, random), ``variants.parquet`` the controls,
variants and the coefficient-box scan; sigma values are sqrt(sum over probe events of l^2), l the per-event
log-likelihood ratio.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.parquet_io import write_parquet
from .controller import LoopResult, Tier
from .pipeline import StudyResult
from .tracing import LoopTracer

__all__ = ["MAIN_GROUPS", "log_study", "trace_frame", "traced_runner", "write_traces"]

MAIN_GROUPS = {"residual_energy", "epig", "random"}


def traced_runner(tracer: LoopTracer):
    """``traced(loop, name, **kw)``: run one loop inside an ``aletheia.loop`` span with its settings and outcome."""

    def traced(loop, name: str, **kw) -> LoopResult:
        tracer.start("aletheia.loop", {"run": name, "arm": kw.get("arm", "residual_energy"),
                                       "extension": kw.get("extension", ""), "floor": loop.s.floor,
                                       "fingerprint": loop.s.fingerprint, "n_probe": loop.probe.probe.n,
                                       "coeff_max": loop.s.coeff_max})
        res = loop.run(tracer=tracer, **kw)
        tracer.close({"completed": res.completed, "cycles": len(res.records),
                      "n_extensions": res.n_extensions, "final_psi_dim": res.psi.dim})
        return res

    return traced


def trace_frame(study: StudyResult) -> pd.DataFrame:
    """Every run's per-cycle records, labelled by run name, group, probe draw and coefficient box."""
    frames = []
    for group, runs in study.runs.items():
        for i, (draw, r) in enumerate(runs):
            name = "headline" if group == "residual_energy" and i == 0 else f"{group}_d{draw}_s{r.seed}"
            frames.append(r.frame().assign(run=name, group=group, draw=draw, coeff_max=r.coeff_max))
    return pd.concat(frames, ignore_index=True)


def write_traces(study: StudyResult, tiers: tuple[Tier, ...], floor: float, out_dir: Path) -> None:
    """``trace.parquet`` (the arms) and ``variants.parquet`` (everything else) under ``out_dir``."""
    trace = trace_frame(study)
    meta = {"operators": list(tiers[0].operators + tiers[-1].operators if len(tiers) > 1 else tiers[0].operators),
            "tiers": {t.name: list(t.operators) for t in tiers}, "floor": floor,
            "sigma_units": "sqrt(sum over probe events of l^2), l = per-event log-likelihood ratio"}
    main = trace["group"].isin(MAIN_GROUPS)
    write_parquet(trace[main].reset_index(drop=True), out_dir / "trace.parquet", meta)
    write_parquet(trace[~main].reset_index(drop=True), out_dir / "variants.parquet", meta)


def log_study(run, study: StudyResult, metrics: dict) -> None:
    """The headline run's per-cycle sigma_1 and psi dimension, the gates and the stage time, to MLflow."""
    head = study.runs["residual_energy"][0][1]
    for r in head.records:
        run.log_metrics({"sigma1_pre": r.sigma1_pre, "sigma1_post": r.sigma1_post, "psi_dim": r.psi_dim,
                         "sigma1_val_post": r.sigma1_val_post}, step=r.cycle)
    run.log_metrics({"gates_passed": metrics["gates_passed"], "stage_seconds": metrics["seconds"]["stage"]})

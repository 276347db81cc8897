"""The ``fit`` stage: published Drell-Yan spectra -> 95 % CL intervals on Wilson coefficients (Lambda = 1 TeV).

Writes ``reports/metrics/fit.json`` with exactly the issue's keys ({dataset|combined: {chi2_sm, ndf, intervals:
{op: {linear: [lo, hi], quadratic: [lo, hi]}}}}, null for a bound the data do not close), the details
(``reports/metrics/fit_details.json``: both SM baselines, profiled and marginalised intervals, posterior
diagnostics, toy coverage) and the working files in ``data/fit/`` (templates per dataset, LO vs data per bin,
contour grids, posterior samples), all logged to MLflow.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_json
from ..config import Params
from ..errors import SmeftfmError
from ..fit.study import ORDERS, fit_study
from ..tracking import stage_run

__all__ = ["ORDERS", "run_fit"]


def run_fit(params: Params, out_dir: Path, metrics: Path, details: Path) -> dict:
    """Run :func:`smeftfm.fit.study.fit_study`, write ``fit.json``, the details and ``data/fit/results.json``."""
    fp, ph = params.fit, params.physics
    logged = {"fit": fp.model_dump(), "quadrature": params.quadrature.model_dump(),
              "physics": {"pdf": ph.pdf, "pdf_member": ph.pdf_member, "lambda_np": ph.lambda_np}}
    if abs(ph.lambda_np - 1000.0) > 1e-9:
        raise SmeftfmError("fit.json is defined at Lambda = 1 TeV; set physics.lambda_np: 1000.0")
    out_dir.mkdir(parents=True, exist_ok=True)
    with stage_run("fit", logged) as run:
        res = fit_study(params, out_dir, run.log_metrics)
        write_json(metrics, res.fit_json)
        write_json(details, res.details)
        write_json(out_dir / "results.json", {"fit": res.fit_json, "details": res.details,
                                              "lo_vs_data": res.lo_vs_data})
        for f in (metrics, details, out_dir / "results.json", out_dir / "posterior_samples.npz",
                  out_dir / "contours.npz"):
            run.log_artifact(f)
        run.log_metrics({"seconds": res.details["seconds"]})
    return res.fit_json

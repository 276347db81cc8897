"""Fit speed: the default ``fit`` stage's hot paths against bare baselines measured in the same run.

1. Single-operator scan: the vectorised grid chi2 (4001 points, normalisation profiled, quadratic order, combined
   likelihood) against a per-point Python loop over the same chi2 (the bare baseline); prints both and the speed-up.
2. Templates: the CMS full-phase-space templates (43 bins, 17 operators, quadratic) with the default quadrature.
3. The whole stage (tracking off) with its per-phase seconds from ``fit_details.json`` (target < 2 min).

Run: LHAPDF_DATA_PATH=../shared/pdfsets .venv/bin/python benchmarks/fit.py [--skip-stage]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from smeftfm.config import load_params
from smeftfm.fit.likelihood import DatasetLikelihood, Likelihood, embed
from smeftfm.fit.measurements import load_dataset
from smeftfm.fit.predict import dataset_templates
from smeftfm.physics.operators import VECTOR_OPERATORS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-stage", action="store_true")
    args = ap.parse_args()
    params = load_params()
    d = load_dataset(Path(params.fit.root) / "cms_dy_13tev")
    t0 = time.perf_counter()
    t = dataset_templates(d.phase_space, d.edges, VECTOR_OPERATORS, "quadratic", name=d.name)
    t_templates = time.perf_counter() - t0
    print(f"templates CMS (43 bins, 17 ops, quadratic): {t_templates:.1f} s")
    lik = Likelihood([DatasetLikelihood(d, t, True, tuple(params.fit.shape_sigma))])
    grid = np.linspace(-0.5, 0.5, 4001)
    t0 = time.perf_counter()
    vec = lik.chi2(embed(lik.operators, ["clq3"], grid[:, None]), "quadratic")
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop = np.array([float(lik.chi2(embed(lik.operators, ["clq3"], np.array([g])), "quadratic")) for g in grid])
    t_loop = time.perf_counter() - t0
    assert np.allclose(vec, loop, rtol=1e-10)
    print(f"grid scan 4001 points: vectorised {1e3 * t_vec:.1f} ms, per-point loop {1e3 * t_loop:.1f} ms, "
          f"speed-up {t_loop / t_vec:.0f}x")
    if args.skip_stage:
        return
    from smeftfm.stages.fit import run_fit

    os.environ["SMEFTFM_TRACKING"] = "off"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_fit(params, Path(tmp) / "fit", Path(tmp) / "fit.json", Path(tmp) / "details.json")
        total = time.perf_counter() - t0
        phases = json.loads((Path(tmp) / "details.json").read_text())["seconds_by_phase"]
    print(f"fit stage: {total:.1f} s (target < 120 s); " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))


if __name__ == "__main__":
    main()

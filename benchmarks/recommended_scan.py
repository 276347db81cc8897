"""Scan of the `recommended` encoder (docs/models.md, "The recommended encoder"): which settings meet the targets.

For each setting (latent dimension, number of training universes, steps) it trains the metric-learning encoder
(``models/metric.py``) on the default corpus' seen replicas plus extra universes, scores it with the scorecard
(``models/scorecard.py``) on the unseen universes, and prints the three targets of issue 11:

* ``gap``: the largest shortfall of the latent SM-compatibility AUROC below the GoF test's, over every signal and
  strength (target: <= 0.05);
* ``F1 3s / 6s``: retrieval F1 against the exact chi^2 truth (target: >= 0.8);
* ``R2 enc / lda / wpca``: Wilson-coefficient probe R^2 on unseen universes (target: encoder above both).

Writes ``reports/metrics/recommended_scan.json``. Needs the default pipeline up to ``corpus`` and ``joint``.
Usage: ``python benchmarks/recommended_scan.py [--dims 2 8 16 32 64] [--universes 0 900] [--steps 1500]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from smeftfm.atomic import write_json
from smeftfm.config import load_params
from smeftfm.models.evaluation import build_eval_data, recommended_config, score_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="*", default=[2, 8, 16, 32, 64])
    ap.add_argument("--universes", type=int, nargs="*", default=[900])
    ap.add_argument("--steps", type=int, nargs="*", default=[1500])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="reports/metrics/recommended_scan.json")
    a = ap.parse_args()
    params = load_params(a.params)
    t0 = time.perf_counter()
    ev, ctx = build_eval_data(params, Path("data/corpus"), Path("data/spectra.parquet"),
                              Path("data/universes.parquet"), Path("data/templates/spectra.parquet"),
                              Path("data/templates/joint.parquet"))
    print(f"evaluation data in {time.perf_counter() - t0:.0f} s (nu = {ev.prec.nu})")
    print(f"{'dim':>4} {'univ':>5} {'steps':>6} {'gap':>7} {'F1 3s':>6} {'F1 6s':>6} {'R2 enc':>7} {'lda':>7} "
          f"{'wpca':>7} {'kNN':>6} {'s':>5}")
    rows = []
    for n_u in a.universes:
        for steps in a.steps:
            for dim in a.dims:
                t1 = time.perf_counter()
                rp = params.scorecard.recommended.model_copy(update={"latent_dim": dim, "extra_universes": n_u,
                                                                     "steps": steps})
                p = params.model_copy(update={"scorecard": params.scorecard.model_copy(update={"recommended": rp})})
                entry, _, _ = score_config("recommended", recommended_config(p, ev, ctx), ev, "scan")
                gap = max(v["auroc_gof"] - v["auroc"] for per in entry["anomaly"].values() for v in per.values())
                f1 = {k: entry["retrieval"][k]["f1"] for k in ("3sigma", "6sigma")}
                r2 = entry["coefficient_r2_unseen"]
                row = {"latent_dim": dim, "extra_universes": n_u, "steps": steps, "max_gof_gap": gap,
                       "f1_3sigma": f1["3sigma"], "f1_6sigma": f1["6sigma"], "r2": r2,
                       "knn_seen": entry["knn_seen"]["encoder"], "seconds": time.perf_counter() - t1,
                       "meets_targets": bool(gap <= 0.05 and all((v or 0) >= 0.8 for v in f1.values())
                                             and r2["encoder"] > max(r2["lda"], r2["pca_whitened"]))}
                rows.append(row)
                print(f"{dim:4d} {n_u:5d} {steps:6d} {gap:7.3f} {f1['3sigma'] or 0:6.3f} {f1['6sigma'] or 0:6.3f} "
                      f"{r2['encoder']:7.3f} {r2['lda']:7.3f} {r2['pca_whitened']:7.3f} "
                      f"{row['knn_seen']:6.3f} {row['seconds']:5.0f}")
    write_json(a.out, {"rows": rows})


if __name__ == "__main__":
    main()

"""Scan of the `recommended` encoder (docs/models.md, "The recommended encoder"): which settings meet the targets.

For each named setting (metric-block width, initialisation, supervised coefficient head, steps) it trains the
encoder (``models/metric.py``) on the default corpus' seen replicas plus extra universes, scores it with the
scorecard (``models/scorecard.py``) on the unseen universes, and prints the three targets of issue 11:

* ``gap``: the largest shortfall of the latent SM-compatibility AUROC below the GoF test's, over every signal and
  strength (target: <= 0.05);
* ``F1 3s / 6s``: retrieval F1 against the exact chi^2 truth (target: >= 0.8);
* ``R2 enc / lda / wpca``: Wilson-coefficient probe R^2 on unseen universes (target: encoder above both).

The settings run with ``--steps`` Adam steps (default 600, below the stage's 1500, to keep the scan at a few
minutes of one thread; the stage's own figures are in scorecard.json). CPU seconds per setting are printed.
``--merge`` adds or replaces the given settings' rows in an existing output written with the same step count.
Writes ``reports/metrics/recommended_scan.json`` (rendered in docs/models.md by markers). Needs the default
pipeline up to ``corpus`` and ``joint``. Usage: ``python benchmarks/recommended_scan.py [--configs NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from smeftfm.atomic import write_json
from smeftfm.config import load_params
from smeftfm.models.evaluation import build_eval_data, recommended_config, score_config

#: name -> overrides of ``scorecard.recommended`` (latent_dim 0 = the input width nu)
CONFIGS: dict[str, dict] = {
    "stress_16": {"whitening": "chi2", "latent_dim": 16, "identity_init": False, "coef_width": 0,
                  "cloud": "mahalanobis"},
    "stress_32": {"whitening": "chi2", "latent_dim": 32, "identity_init": False, "coef_width": 0,
                  "cloud": "mahalanobis"},
    "stress_full_random": {"whitening": "chi2", "latent_dim": 0, "identity_init": False, "coef_width": 0},
    "chi2_full_mahalanobis": {"whitening": "chi2", "latent_dim": 0, "identity_init": True, "coef_width": 0,
                              "cloud": "mahalanobis"},
    "chi2_full": {"whitening": "chi2", "latent_dim": 0, "identity_init": True, "coef_width": 0},
    "gof_full_mahalanobis": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 0,
                             "cloud": "mahalanobis"},
    "gof_full": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 0},
    "gof_full_head": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 128},
    "gof_full_head_w03": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 128,
                           "coef_weight": 0.3},
    "gof_full_head_seed1": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 128, "seed": 1},
    "gof_full_head_seed2": {"whitening": "gof", "latent_dim": 0, "identity_init": True, "coef_width": 128, "seed": 2},
    "gof_16_head": {"whitening": "gof", "latent_dim": 16, "identity_init": False, "coef_width": 128},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="reports/metrics/recommended_scan.json")
    ap.add_argument("--merge", action="store_true", help="keep the other settings' rows already in --out")
    a = ap.parse_args()
    torch.set_num_threads(1)
    params = load_params(a.params)
    t0, c0 = time.perf_counter(), time.process_time()
    ev, ctx = build_eval_data(params, Path("data/corpus"), Path("data/spectra.parquet"),
                              Path("data/universes.parquet"), Path("data/templates/spectra.parquet"),
                              Path("data/templates/joint.parquet"))
    print(f"evaluation data in {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU "
          f"(nu = {ev.prec.nu})")
    print(f"{'config':>20} {'dim':>4} {'gap':>7} {'F1 3s':>6} {'F1 6s':>6} {'R2 enc':>7} {'lda':>7} "
          f"{'wpca':>7} {'kNN':>6} {'cpu s':>6}")
    rows = []
    for name in a.configs:
        c1 = time.process_time()
        rp = params.scorecard.recommended.model_copy(update={**CONFIGS[name], "steps": a.steps})
        p = params.model_copy(update={"scorecard": params.scorecard.model_copy(update={"recommended": rp})})
        cm = recommended_config(p, ev, ctx)
        entry, det, _ = score_config("recommended", cm, ev, "scan")
        gap = max(v["auroc_gof"] - v["auroc"] for per in entry["anomaly"].values() for v in per.values())
        worst = {sig: max(v["auroc_gof"] - v["auroc"] for v in per.values()) for sig, per in entry["anomaly"].items()}
        f1 = {k: entry["retrieval"][k]["f1"] for k in ("3sigma", "6sigma")}
        r2 = entry["coefficient_r2_unseen"]
        row = {"config": name, **CONFIGS[name], "steps": a.steps, "latent_width": cm.info["latent_dim"],
               "max_gof_gap": gap, "gof_gap_per_signal": worst,
               "f1_3sigma": f1["3sigma"], "f1_6sigma": f1["6sigma"], "r2_encoder": r2["encoder"],
               "r2_lda": r2["lda"], "r2_pca_whitened": r2["pca_whitened"],
               "knn_seen": entry["knn_seen"]["encoder"], "final_stress": cm.info["final_stress"],
               "cpu_seconds": time.process_time() - c1,
               "meets_targets": bool(gap <= 0.05 and all((v or 0) >= 0.8 for v in f1.values())
                                     and r2["encoder"] > max(r2["lda"], r2["pca_whitened"]))}
        rows.append(row)
        print(f"{name:>20} {row['latent_width']:4d} {gap:7.3f} {f1['3sigma'] or 0:6.3f} {f1['6sigma'] or 0:6.3f} "
              f"{r2['encoder']:7.3f} {r2['lda']:7.3f} {r2['pca_whitened']:7.3f} "
              f"{row['knn_seen']:6.3f} {row['cpu_seconds']:6.0f}", flush=True)
    if a.merge and Path(a.out).exists():
        old = json.loads(Path(a.out).read_text())
        if old.get("steps") != a.steps:
            raise SystemExit(f"{a.out} was written with {old.get('steps')} steps, not {a.steps}; rerun all settings")
        names = {r["config"] for r in rows}
        rows = [r for r in old["rows"] if r["config"] not in names] + rows
    write_json(a.out, {"steps": a.steps, "nu": ev.prec.nu, "rows": rows,
                       "by_config": {r["config"]: r for r in rows}})


if __name__ == "__main__":
    main()

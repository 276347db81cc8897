"""Table 2 (retrieval counts around the SM, docs/models.md) over several training seeds of the `paper` encoder.

For each seed the default `train` and `heads` stages run through the CLI (``smeftfm train`` / ``smeftfm heads``,
only ``train.seed`` changed, outputs in a temporary directory, MLflow off) on the default corpus, and the heads'
retrieval metrics are collected: number of seen universes retrieved at 1/3/6 sigma, precision and recall against
the exact chi^2 truth, and the encoder's k-NN accuracy. Prints the per-seed table and mean / sample standard
deviation / min / max; writes ``reports/metrics/table2_seeds.json`` (rendered in docs/models.md by markers).

Runs ~1-2 CPU minutes per seed. Usage: ``python benchmarks/table2_seeds.py [--seeds 0 1 2 3 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from smeftfm.atomic import write_json

LEVELS = ("1sigma", "3sigma", "6sigma")
FIELDS = ("n_retrieved", "n_true", "precision", "recall")


def _run_seed(seed: int, params: dict, tmp: Path, env: dict) -> dict:
    p = json.loads(json.dumps(params))
    p["train"]["seed"] = seed
    pfile = tmp / f"params_{seed}.yaml"
    pfile.write_text(yaml.safe_dump(p))
    d = tmp / f"seed{seed}"
    common = ["--params", str(pfile)]
    subprocess.run(["smeftfm", "train", *common, "--corpus", "data/corpus", "--spectra", "data/spectra.parquet",
                    "--universes", "data/universes.parquet", "--model", str(d / "encoder"), "--embeddings",
                    str(d / "emb"), "--metrics", str(d / "train.json"), "--plots", str(d / "loss.csv")],
                   check=True, env=env, capture_output=True)
    subprocess.run(["smeftfm", "heads", *common, "--embeddings", str(d / "emb"), "--model", str(d / "encoder"),
                    "--spectra", "data/spectra.parquet", "--universes", "data/universes.parquet", "--templates",
                    "data/templates/spectra.parquet", "--out", str(d / "heads"), "--metrics", str(d / "heads.json")],
                   check=True, env=env, capture_output=True)
    heads = json.loads((d / "heads.json").read_text())
    train = json.loads((d / "train.json").read_text())
    return {"seed": seed, "knn_accuracy": train["encoder"]["knn_accuracy"],
            **{lvl: {f: heads["retrieval"][lvl].get(f) for f in FIELDS} for lvl in LEVELS}}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _summary(values: list) -> dict | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return None
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()),
            "max": float(v.max()), "n": int(len(v))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="reports/metrics/table2_seeds.json")
    a = ap.parse_args()
    params = yaml.safe_load(Path(a.params).read_text())
    env = {**os.environ, "SMEFTFM_TRACKING": "off", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    rows = []
    print(f"{'seed':>4} {'kNN':>6} " + " ".join(f"{lvl:>8} {'P':>5} {'R':>5}" for lvl in LEVELS))
    with tempfile.TemporaryDirectory(prefix="table2_") as td:
        for seed in a.seeds:
            c0, t0 = _children_cpu(), time.perf_counter()
            r = _run_seed(seed, params, Path(td), env)
            r["wall_seconds"], r["cpu_seconds"] = time.perf_counter() - t0, _children_cpu() - c0
            rows.append(r)
            print(f"{seed:4d} {r['knn_accuracy']:6.3f} " + " ".join(
                f"{r[lvl]['n_retrieved']:8d} {r[lvl]['precision'] or float('nan'):5.2f} "
                f"{r[lvl]['recall'] or float('nan'):5.2f}" for lvl in LEVELS) + f"  ({r['cpu_seconds']:.0f} CPU s)",
                flush=True)
    summary = {lvl: {f: _summary([r[lvl][f] for r in rows]) for f in FIELDS} for lvl in LEVELS}
    summary["knn_accuracy"] = _summary([r["knn_accuracy"] for r in rows])
    for lvl in LEVELS:
        s = summary[lvl]["n_retrieved"]
        print(f"{lvl}: retrieved {s['mean']:.1f} +- {s['std']:.1f} (min {s['min']:.0f}, max {s['max']:.0f}) "
              f"of {summary[lvl]['n_true']['mean']:.0f} compatible")
    write_json(a.out, {"seeds": a.seeds, "rows": rows, "summary": summary})


if __name__ == "__main__":
    main()

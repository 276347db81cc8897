"""How reproducible are the data outputs across BLAS thread counts? (docs/reproducibility.md)

Runs the same computations in fresh processes with OMP/OpenBLAS/MKL thread counts 1 and 2 and prints, per
output, whether the bytes agree and the largest relative difference:

* templates: binned m_ll and p_T morphing templates (pb/GeV) at the default quadrature (float64 einsum/matmul);
* spectra: y(C) = monomials @ templates for 100 random coefficient vectors (float64 gemm);
* replicas: 2000 corpus replicas of one universe (float32 z @ A^T, the corpus stage's kernel).

Usage: python benchmarks/reproducibility.py [--operators clq1 cHq3 ceu] [--write reports/metrics/reproducibility.json]
(``--write`` stores the figures that docs/reproducibility.md renders with ``smeftfm docs-sync``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def compute(out: Path, operators: list[str]) -> None:
    """The three outputs in this process (thread count fixed by the environment)."""
    from smeftfm.data.uncertainties import UncertaintyModel
    from smeftfm.physics.oracle import Oracle

    oracle = Oracle(operators=tuple(operators))
    t = oracle.binned_templates("linear")
    rng = np.random.default_rng(0)
    coeffs = rng.normal(0.0, 1.0, (100, len(operators)))
    y = t.predict(coeffs)
    model = UncertaintyModel.from_templates(t, 10_000)
    reps = model.sample(y[0], 2000, np.random.default_rng(1), dtype=np.float32)
    out.write_bytes(pickle.dumps({"templates": t.values, "spectra": y, "replicas": reps}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--operators", nargs="+", default=["clq1", "cHq3", "ceu"])
    ap.add_argument("--write", type=Path, help="also write the figures as JSON (metrics file for docs-sync)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        compute(a.child, a.operators)
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            env = dict(os.environ, **{v: str(n) for v in THREAD_VARS})
            path = Path(tmp) / f"t{n}.pkl"
            subprocess.run([sys.executable, __file__, "--child", str(path), "--operators", *a.operators],
                           env=env, check=True)
            results[n] = pickle.loads(path.read_bytes())
    print(f"{'output':10s} {'bytes equal':>12s} {'max rel diff':>14s} {'median rel (differing)':>23s} "
          f"{'differing entries':>18s}")
    figures = {"threads": [1, 2], "operators": a.operators}
    for key in ("templates", "spectra", "replicas"):
        x, z = results[1][key], results[2][key]
        scale = np.maximum(np.abs(x), np.abs(z))
        rel = np.divide(np.abs(x - z), scale, out=np.zeros(x.shape, dtype=np.float64), where=scale > 0)
        diff = x != z
        med = float(np.median(rel[diff])) if diff.any() else 0.0
        figures[key] = {"bytes_equal": x.tobytes() == z.tobytes(), "max_rel_diff": float(rel.max()),
                        "median_rel_diff_differing": med, "n_differing": int(diff.sum()), "n": int(x.size)}
        print(f"{key:10s} {str(x.tobytes() == z.tobytes()):>12s} {rel.max():14.2e} {med:23.2e} "
              f"{int(diff.sum()):>8d} / {x.size}")
    if a.write:
        from smeftfm.atomic import write_json

        write_json(a.write, figures)


if __name__ == "__main__":
    main()

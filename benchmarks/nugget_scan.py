"""Scan of the nugget rho in Sigma(rho) = (1-rho) Sigma_Poisson + rho Sigma_paper (docs/data.md, "Choosing rho").

For each rho, at the default scenario (params.yaml) and the default pipeline's universes, prints:

* ``rank``: eigenvalues of Sigma_SM above 1e-10 lambda_max (of 92); ``log10 cond``: of the SM correlation matrix;
* ``compat k``: universes whose exact chi^2 vs the SM (pseudo-inverse cut at 1e-10 lambda_max, as the heads
  use) is below the k-sigma quantile (1/3/6 sigma), of 100;
* ``LDA kNN``: k-NN accuracy (k=15) of a supervised linear 2-D projection (LDA) of log(y/y_SM) replicas, fit on
  ``--train`` replicas per universe and scored on ``--test`` others: 1.00 means the noise model leaves
  noise-free directions that make the universes trivially separable.

* ``minvar``: the smallest variance of any bin combination relative to its Poisson variance (0 at rho = 0 is
  physical: the two histograms count the same events), ``within``: the same within one histogram, where counting
  statistics fix it at exactly 1.

Writes the table to ``--out`` (default ``reports/metrics/nugget_scan.json``, quoted by docs/data.md through metric
markers) with the rule that picks the default: the largest rho (most of the paper's correlated model kept) at
which no bin combination within a histogram fluctuates less than ``--min-ratio`` (1/2) of its Poisson variance,
i.e. the replicas are never more than sqrt(2) more precise than counting statistics allow.

Needs ``dvc repro spectra joint`` first. Usage: ``python benchmarks/nugget_scan.py [--rho 0 0.5 1] [--train 100]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.neighbors import KNeighborsClassifier

from smeftfm.atomic import write_json
from smeftfm.config import load_params
from smeftfm.data.joint_io import read_joint
from smeftfm.data.noise import NoiseModel
from smeftfm.data.templates_io import read_templates
from smeftfm.models.datasets import load_theory
from smeftfm.models.retrieval import chi2_threshold, exact_chi2


def _min_ratio(cov: np.ndarray, poisson_sd: np.ndarray, idx: np.ndarray) -> float:
    """Smallest eigenvalue of Sigma normalised by the Poisson standard deviations, over the bins ``idx``."""
    idx = idx[poisson_sd[idx] > 0]
    r = cov[np.ix_(idx, idx)] / np.outer(poisson_sd[idx], poisson_sd[idx])
    return float(np.linalg.eigvalsh(r).min())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rho", type=float, nargs="*", default=[0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95, 1.0])
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--test", type=int, default=50)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--min-ratio", type=float, default=0.5)
    ap.add_argument("--out", default="reports/metrics/nugget_scan.json")
    a = ap.parse_args()
    params = load_params(a.params)
    t = read_templates("data/templates/spectra.parquet")
    jt = read_joint("data/templates/joint.parquet")
    theory = load_theory("data/spectra.parquet", "data/universes.parquet")
    cross = jt.cross_sections(theory.operators, theory.coeffs, params.physics.order)
    c = params.corpus
    print(f"{'rho':>5} {'rank':>5} {'log10cond':>9} {'minvar':>7} {'within':>7} "
          f"{'compat 1s':>10} {'compat 3s':>10} {'compat 6s':>10} "
          f"{'LDA kNN':>8} {'s':>5}")
    rows = []
    for rho in a.rho:
        t0 = time.perf_counter()
        m = NoiseModel.from_templates(t, c.n_events, c.corr_length_gev, c.luminosity_fb, rho, c.poisson_below)
        cov = m.covariance(theory.y_sm, jt.sm)
        w = np.linalg.eigvalsh(cov)
        rank = int((w > 1e-10 * w.max()).sum())
        d = np.sqrt(np.diag(cov))
        corr = cov / np.outer(d, d)
        wc = np.linalg.eigvalsh(corr)
        cond = np.log10(wc.max() / max(wc.min(), 1e-300))
        pv = np.sqrt(m.expected_events(theory.y_sm)) / (m.lumi * m.widths)  # Poisson sd per bin, pb/GeV
        idx = np.arange(pv.size)
        min_ratio = _min_ratio(cov, pv, idx)  # least noise of any bin combination / its Poisson noise
        block_ratio = min(_min_ratio(cov, pv, idx[m.mll]), _min_ratio(cov, pv, idx[m.pt]))  # within a histogram
        chi2, dof = exact_chi2(theory.y, theory.y_sm, cov, 1e-10)
        comp = [str(int((chi2 <= chi2_threshold(k, dof)).sum())) for k in (1, 3, 6)]
        rng = np.random.default_rng(0)
        xs, ls = [], []
        for u in range(len(theory.labels)):
            x = m.sample(theory.y[u], a.train + a.test, rng, cross[u])
            xs.append(x)
            ls.append(np.full(len(x), u))
        x = np.log(np.clip(np.concatenate(xs) / theory.y_sm, 1e-2, None))
        lab = np.concatenate(ls)
        is_tr = np.tile(np.r_[np.ones(a.train, bool), np.zeros(a.test, bool)], len(theory.labels))
        mu, sd = x[is_tr].mean(0), x[is_tr].std(0) + 1e-12
        x = (x - mu) / sd
        lda = LinearDiscriminantAnalysis(n_components=2).fit(x[is_tr], lab[is_tr])
        z = lda.transform(x)
        knn = KNeighborsClassifier(15).fit(z[is_tr], lab[is_tr]).score(z[~is_tr], lab[~is_tr])
        rows.append({"rho": rho, "rank": rank, "log10_cond_corr": float(cond), "lda_knn": float(knn),
                     "min_var_ratio": min_ratio, "min_var_ratio_within": block_ratio,
                     "compatible": dict(zip(("1sigma", "3sigma", "6sigma"), map(int, comp)))})
        print(f"{rho:5.2f} {rank:5d} {cond:9.1f} {min_ratio:7.3f} {block_ratio:7.3f} "
              f"{comp[0]:>10} {comp[1]:>10} {comp[2]:>10} {knn:8.3f} "
              f"{time.perf_counter() - t0:5.1f}")
    ok = [r["rho"] for r in rows if r["min_var_ratio_within"] >= a.min_ratio - 1e-9]
    chosen = max(ok) if ok else None
    print(f"largest rho whose within-histogram noise stays >= {a.min_ratio:g} x Poisson in every direction: {chosen}")
    write_json(a.out, {"min_ratio": a.min_ratio, "chosen_rho": chosen, "n_events": c.n_events,
                       "by_rho": rows})


if __name__ == "__main__":
    main()

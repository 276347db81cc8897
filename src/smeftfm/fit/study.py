"""The ``fit`` stage's steps: per-dataset likelihoods, single-operator intervals, operator sets with profiled
intervals and contours, posteriors, and the toy coverage check (Lambda = 1 TeV; chi^2 dimensionless).

:func:`fit_study` runs them in order and returns the contract file ``fit.json`` ({dataset|combined: {chi2_sm,
ndf, intervals: {op: {linear: [lo, hi], quadratic: [lo, hi]}}}}, null for a bound the data do not close), the
details and the LO-vs-data comparison; the stage (:func:`smeftfm.stages.fit.run_fit`) writes and logs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..config import Params
from ..data.templates_io import write_templates
from ..exchange.wcxf_io import write_wcxf
from ..physics.operators import VECTOR_OPERATORS, resolve
from ..physics.oracle import Binning, Templates, quadrature_from_params
from .intervals import contour_grid, fit_minuit, minos_intervals, scan_single
from .likelihood import DatasetLikelihood, Likelihood, embed, linear_fisher
from .measurements import Dataset, load_dataset
from .posterior import sample_posterior
from .predict import dataset_templates
from .toys import interval_coverage

__all__ = ["ORDERS", "FitResult", "fit_operators", "fit_study"]

ORDERS = ("linear", "quadratic")
LogMetrics = Callable[[dict], None]


def fit_operators(params: Params) -> tuple[str, ...]:
    """The operators ``fit.operators`` names (``all``: the 17 vector operators)."""
    fp = params.fit
    return VECTOR_OPERATORS if fp.operators == "all" else resolve(list(fp.operators))


def _window(ds: Dataset, t: Templates, rng: tuple[float, float] | None) -> tuple[Dataset, Templates]:
    if rng is None:
        return ds, t
    sub = ds.select(*rng)
    keep = (ds.edges[:-1] >= sub.edges[0] - 1e-9) & (ds.edges[1:] <= sub.edges[-1] + 1e-9)
    return sub, Templates((Binning("mll", sub.edges),), t.operators, t.order, t.values[:, keep], dict(t.meta))


def _bounds(iv) -> list[float | None]:
    return [None if v is None else float(v) for v in iv.as_list()]


def _sm_chi2(part: DatasetLikelihood) -> float:
    return float(part.chi2(np.zeros(len(part.operators)), "linear"))


@dataclass
class FitResult:
    fit_json: dict = field(default_factory=dict)
    details: dict = field(default_factory=lambda: {"datasets": {}, "sets": {}, "posteriors": {}})
    lo_vs_data: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)


def _lo_vs_data(ds: Dataset, t: Templates, shape_sigma: tuple[float, ...]) -> dict:
    """The full-range SM comparison: LO vs data per bin, one fitted normalisation, with and without shape."""
    f_norm = DatasetLikelihood(ds, t, True, ())
    f_shape = DatasetLikelihood(ds, t, True, shape_sigma)
    return {"edges": ds.edges.tolist(), "data": ds.values.tolist(), "err": ds.errors.tolist(),
            "lo_sm": t.values[0].tolist(), "lo_over_data": (t.values[0] / ds.values).tolist(),
            "full_range": {"chi2_norm": _sm_chi2(f_norm), "chi2_norm_shape": _sm_chi2(f_shape), "ndf": f_norm.ndf,
                           "norm": f_norm.norm0, "chi2_ndf_norm": _sm_chi2(f_norm) / f_norm.ndf,
                           "chi2_ndf_norm_shape": _sm_chi2(f_shape) / f_norm.ndf}}


def dataset_parts(params: Params, ops: tuple[str, ...], out_dir: Path,
                  res: FitResult) -> tuple[list[DatasetLikelihood], list[DatasetLikelihood]]:
    """Templates per dataset (written to ``out_dir``), the LO-vs-data comparison, and each dataset's likelihood
    in its fit window: (normalisation only, normalisation + shape nuisances)."""
    fp, ph = params.fit, params.physics
    spec = quadrature_from_params(params)
    parts_norm, parts_shape = [], []
    for folder in fp.datasets:
        ds = load_dataset(Path(fp.root) / folder)
        t = dataset_templates(ds.phase_space, ds.edges, ops, "quadratic", ph.pdf, ph.pdf_member, ph.lambda_np,
                              spec, ds.name)
        write_templates(t, out_dir / f"templates_{ds.name}.parquet")
        res.lo_vs_data[ds.name] = _lo_vs_data(ds, t, tuple(fp.shape_sigma))
        wds, wt = _window(ds, t, fp.mll_range.get(folder))
        parts_norm.append(DatasetLikelihood(wds, wt, True, ()))
        parts_shape.append(DatasetLikelihood(wds, wt, True, tuple(fp.shape_sigma)))
    return parts_norm, parts_shape


def _per_dataset(parts: list[DatasetLikelihood]) -> dict[str, Likelihood]:
    out = {p.name: Likelihood([p], p.name) for p in parts}
    out["combined"] = Likelihood(parts, "combined")
    return out


def single_operator_fits(liks: dict[str, Likelihood], norm_only: dict[str, Likelihood], ops: tuple[str, ...],
                         cl: float, res: FitResult, log: LogMetrics) -> None:
    """Per dataset and combined: SM chi^2, ndf and every operator's interval at both orders (``fit.json``)."""
    zero = np.zeros(len(ops))
    for key, lik in liks.items():
        entry: dict = {"chi2_sm": float(lik.chi2(zero, "linear")), "ndf": int(lik.ndf), "intervals": {}}
        best = {}
        for op in ops:
            ivs = {o: scan_single(lik, op, o, cl) for o in ORDERS}
            entry["intervals"][op] = {o: _bounds(ivs[o]) for o in ORDERS}
            best[op] = {o: {"best": ivs[o].best, "chi2_min": ivs[o].chi2_min, "pieces": ivs[o].pieces}
                        for o in ORDERS}
        res.fit_json[key] = entry
        nlik = norm_only[key]
        res.details["datasets"][key] = {
            "chi2_sm_norm_shape": entry["chi2_sm"], "chi2_sm_norm": float(nlik.chi2(zero, "linear")),
            "ndf": entry["ndf"], "chi2_ndf_norm_shape": entry["chi2_sm"] / entry["ndf"],
            "chi2_ndf_norm": float(nlik.chi2(zero, "linear")) / nlik.ndf,
            "norms": {p.name: p.norm0 for p in lik.parts}, "single": best,
            "mll_window": {p.name: [float(p.dataset.edges[0]), float(p.dataset.edges[-1])] for p in lik.parts},
        }
        log({f"{key}.chi2_sm": entry["chi2_sm"], f"{key}.ndf": entry["ndf"]})


def operator_sets(comb: Likelihood, params: Params, out_dir: Path, res: FitResult) -> dict:
    """Profiled intervals, best fits (WCxf files in ``out_dir``) and Fisher conditioning of every ``fit.sets``
    entry at both orders; returns the Delta chi^2 grids of the two-operator sets."""
    fp = params.fit
    contours = {}
    for s in fp.sets:
        name = "+".join(s)
        res.details["sets"][name] = {}
        for o in ORDERS:
            prof = minos_intervals(comb, list(s), o, fp.cl)
            m = fit_minuit(comb, list(s), o)
            eig = np.linalg.eigvalsh(linear_fisher(comb, list(s)))
            write_wcxf(out_dir / f"bestfit_{name}_{o}.wcxf.yml", {k: float(m.values[k]) for k in s},
                       params.physics.lambda_np)
            res.details["sets"][name][o] = {"profiled": {k: _bounds(v) for k, v in prof.items()},
                                            "fisher_condition": float(eig.max() / max(eig.min(), 1e-300)),
                                            # O(1/Lambda^2) with a near-flat direction: intervals are not meaningful
                                            "degenerate": bool(o == "linear" and eig.min() < 1e-6 * eig.max()),
                                            "best": {k: float(m.values[k]) for k in s}, "chi2_min": float(m.fval)}
            if len(s) == 2:
                contours[f"{name}|{o}"] = contour_grid(comb, (s[0], s[1]), o, fp.contour_points, span=6.0)
    return contours


def best_fit_windows(comb: Likelihood, parts: list[DatasetLikelihood], ops: tuple[str, ...], first: list[str],
                     res: FitResult) -> None:
    """Data vs SM (LO x N) vs the best fit of the first set at O(1/Lambda^4), per dataset in its fit window."""
    if not first:
        return
    mq = fit_minuit(comb, first, "quadratic")
    cbest = embed(ops, first, np.array([mq.values[k] for k in first]))
    zero_c = np.zeros(len(ops))
    for p in parts:
        res.lo_vs_data[p.name]["window"] = {
            "edges": p.dataset.edges.tolist(), "data": p.dataset.values.tolist(), "err": p.dataset.errors.tolist(),
            "sm_fit": (p.norm_hat(zero_c, "linear") * p.predict(zero_c, "linear")).tolist(),
            "best_fit": (p.norm_hat(cbest, "quadratic") * p.predict(cbest, "quadratic")).tolist(),
            "best_fit_point": {k: float(mq.values[k]) for k in first},
        }


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def posteriors(comb: Likelihood, params: Params, res: FitResult, log: LogMetrics) -> dict[str, np.ndarray]:
    """emcee posteriors of every ``fit.posterior_sets`` entry at both orders: marginalised intervals and
    convergence diagnostics in the details; returns the samples."""
    fp, pp = params.fit, params.fit.posterior
    samples = {}
    for s in fp.posterior_sets:
        name = "+".join(s)
        res.details["posteriors"][name] = {}
        for o in ORDERS:
            post = sample_posterior(comb, list(s), o, pp.walkers, pp.steps, pp.burn, pp.box_sigma, pp.seed)
            res.details["posteriors"][name][o] = {
                "marginalised": post.interval(fp.cl), "tau": post.tau.tolist(), "rhat": post.rhat.tolist(),
                "n_steps": post.n_steps, "acceptance": post.acceptance, "converged": post.converged,
                "n_samples": int(post.samples.shape[0]), "prior_box": post.box.tolist(),
                "edge_fraction": post.edge_fraction,
            }
            samples[f"{name}|{o}"] = post.samples
            tag = "_".join(s)  # MLflow metric names allow no '+'
            log({f"posterior.{tag}.{o}.max_rhat": float(post.rhat.max()),
                 f"posterior.{tag}.{o}.max_tau": float(post.tau.max())})
    return samples


def _sm_full_range(lo_vs_data: dict) -> dict:
    out = {k: v["full_range"] for k, v in lo_vs_data.items()}
    for k, v in lo_vs_data.items():
        e = np.asarray(v["edges"])
        r = np.asarray(v["lo_over_data"])
        below = (e[:-1] >= 60.0) & (e[1:] <= 86.0)
        if below.any():
            out[k]["lo_over_data_60_86"] = [float(r[below].min()), float(r[below].max())]
    return out


class _Phases:
    """Wall-clock seconds per named phase (each since the previous mark)."""

    def __init__(self, timing: dict) -> None:
        self.t0 = self.last = time.perf_counter()
        self.timing = timing

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.timing[name], self.last = now - self.last, now


def fit_study(params: Params, out_dir: Path, log: LogMetrics) -> FitResult:
    """Every step of the fit in order; working files (templates, WCxf best fits, contour grids, posterior
    samples) go to ``out_dir``."""
    fp = params.fit
    ops = fit_operators(params)
    res = FitResult()
    clock = _Phases(res.timing)
    parts_norm, parts_shape = dataset_parts(params, ops, out_dir, res)
    clock.mark("templates")
    liks = _per_dataset(parts_shape)
    single_operator_fits(liks, _per_dataset(parts_norm), ops, fp.cl, res, log)
    clock.mark("single_operator")
    contours = operator_sets(liks["combined"], params, out_dir, res)
    best_fit_windows(liks["combined"], parts_shape, ops, list(fp.sets[0]) if fp.sets else [], res)
    _write_npz(out_dir / "contours.npz", {f"{k}|{a}": v for k, (gx, gy, d2) in contours.items()
                                          for a, v in (("x", gx), ("y", gy), ("dchi2", d2))})
    clock.mark("sets_contours")
    _write_npz(out_dir / "posterior_samples.npz", posteriors(liks["combined"], params, res, log))
    clock.mark("posteriors")
    if fp.toys:  # frequentist check on the real covariance: coverage of the 68 % interval (linear, clq1)
        part = parts_shape[0]
        cov68, _ = interval_coverage(part, "clq1", 0.0, "linear", n_toys=fp.toys, seed=fp.posterior.seed)
        res.details["coverage_68"] = {"dataset": part.name, "operator": "clq1", "toys": fp.toys, "coverage": cov68}
    clock.mark("coverage_toys")
    res.details["seconds"] = time.perf_counter() - clock.t0
    res.details["seconds_by_phase"] = res.timing
    res.details["sm_full_range"] = _sm_full_range(res.lo_vs_data)
    return res

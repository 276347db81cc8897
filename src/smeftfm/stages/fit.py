"""The ``fit`` stage: published Drell-Yan spectra -> 95 % CL intervals on Wilson coefficients (Lambda = 1 TeV).

Writes ``reports/metrics/fit.json`` with exactly the issue's keys ({dataset|combined: {chi2_sm, ndf, intervals:
{op: {linear: [lo, hi], quadratic: [lo, hi]}}}}, null for a bound the data do not close), the details
(``reports/metrics/fit_details.json``: both SM baselines, profiled and marginalised intervals, posterior
diagnostics, toy coverage) and the working files in ``data/fit/`` (templates per dataset, LO vs data per bin,
contour grids, posterior samples), all logged to MLflow.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json
from ..config import Params
from ..data.templates_io import write_templates
from ..errors import SmeftfmError
from ..exchange.wcxf_io import write_wcxf
from ..fit.intervals import contour_grid, fit_minuit, minos_intervals, scan_single
from ..fit.likelihood import DatasetLikelihood, Likelihood, embed, linear_fisher
from ..fit.measurements import Dataset, load_dataset
from ..fit.posterior import sample_posterior
from ..fit.predict import dataset_templates
from ..fit.toys import interval_coverage
from ..physics.operators import VECTOR_OPERATORS, resolve
from ..physics.oracle import Binning, Templates, quadrature_from_params
from ..tracking import stage_run

__all__ = ["ORDERS", "run_fit"]

ORDERS = ("linear", "quadratic")


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


def run_fit(params: Params, out_dir: Path, metrics: Path, details: Path) -> dict:
    fp = params.fit
    ops = VECTOR_OPERATORS if fp.operators == "all" else resolve(list(fp.operators))
    spec = quadrature_from_params(params)
    ph = params.physics
    logged = {"fit": fp.model_dump(), "quadrature": params.quadrature.model_dump(),
              "physics": {"pdf": ph.pdf, "pdf_member": ph.pdf_member, "lambda_np": ph.lambda_np}}
    if abs(ph.lambda_np - 1000.0) > 1e-9:
        raise SmeftfmError("fit.json is defined at Lambda = 1 TeV; set physics.lambda_np: 1000.0")
    out_dir.mkdir(parents=True, exist_ok=True)
    with stage_run("fit", logged) as run:
        t0 = time.perf_counter()
        full, parts_shape, parts_norm, lo_vs_data = {}, [], [], {}
        for folder in fp.datasets:
            ds = load_dataset(Path(fp.root) / folder)
            t = dataset_templates(ds.phase_space, ds.edges, ops, "quadratic", ph.pdf, ph.pdf_member, ph.lambda_np,
                                  spec, ds.name)
            write_templates(t, out_dir / f"templates_{ds.name}.parquet")
            full[ds.name] = (ds, t)
            # the full-range SM comparison (LO vs data per bin, one fitted normalisation, with and without shape)
            f_norm = DatasetLikelihood(ds, t, True, ())
            f_shape = DatasetLikelihood(ds, t, True, tuple(fp.shape_sigma))
            lo_vs_data[ds.name] = {
                "edges": ds.edges.tolist(), "data": ds.values.tolist(), "err": ds.errors.tolist(),
                "lo_sm": t.values[0].tolist(), "lo_over_data": (t.values[0] / ds.values).tolist(),
                "full_range": {"chi2_norm": _sm_chi2(f_norm), "chi2_norm_shape": _sm_chi2(f_shape),
                               "ndf": f_norm.ndf, "norm": f_norm.norm0,
                               "chi2_ndf_norm": _sm_chi2(f_norm) / f_norm.ndf,
                               "chi2_ndf_norm_shape": _sm_chi2(f_shape) / f_norm.ndf},
            }
            wds, wt = _window(ds, t, fp.mll_range.get(folder))
            parts_norm.append(DatasetLikelihood(wds, wt, True, ()))
            parts_shape.append(DatasetLikelihood(wds, wt, True, tuple(fp.shape_sigma)))
        timing = {"templates": time.perf_counter() - t0}
        liks = {p.name: Likelihood([p], p.name) for p in parts_shape}
        liks["combined"] = Likelihood(parts_shape, "combined")
        norm_only = {p.name: Likelihood([p], p.name) for p in parts_norm}
        norm_only["combined"] = Likelihood(parts_norm, "combined")

        fit_json, det = {}, {"datasets": {}, "sets": {}, "posteriors": {}}
        zero = np.zeros(len(ops))
        for key, lik in liks.items():
            entry = {"chi2_sm": float(lik.chi2(zero, "linear")), "ndf": int(lik.ndf), "intervals": {}}
            best = {}
            for op in ops:
                ivs = {o: scan_single(lik, op, o, fp.cl) for o in ORDERS}
                entry["intervals"][op] = {o: _bounds(ivs[o]) for o in ORDERS}
                best[op] = {o: {"best": ivs[o].best, "chi2_min": ivs[o].chi2_min, "pieces": ivs[o].pieces}
                            for o in ORDERS}
            fit_json[key] = entry
            nlik = norm_only[key]
            det["datasets"][key] = {
                "chi2_sm_norm_shape": entry["chi2_sm"], "chi2_sm_norm": float(nlik.chi2(zero, "linear")),
                "ndf": entry["ndf"], "chi2_ndf_norm_shape": entry["chi2_sm"] / entry["ndf"],
                "chi2_ndf_norm": float(nlik.chi2(zero, "linear")) / nlik.ndf,
                "norms": {p.name: p.norm0 for p in lik.parts}, "single": best,
                "mll_window": {p.name: [float(p.dataset.edges[0]), float(p.dataset.edges[-1])] for p in lik.parts},
            }
            run.log_metrics({f"{key}.chi2_sm": entry["chi2_sm"], f"{key}.ndf": entry["ndf"]})

        timing["single_operator"] = time.perf_counter() - t0 - sum(timing.values())
        comb = liks["combined"]
        contours = {}
        for s in fp.sets:
            name = "+".join(s)
            det["sets"][name] = {}
            for o in ORDERS:
                prof = minos_intervals(comb, list(s), o, fp.cl)
                m = fit_minuit(comb, list(s), o)
                eig = np.linalg.eigvalsh(linear_fisher(comb, list(s)))
                write_wcxf(out_dir / f"bestfit_{name}_{o}.wcxf.yml", {k: float(m.values[k]) for k in s}, ph.lambda_np)
                det["sets"][name][o] = {"profiled": {k: _bounds(v) for k, v in prof.items()},
                                        "fisher_condition": float(eig.max() / max(eig.min(), 1e-300)),
                                        # O(1/Lambda^2) with a near-flat direction: intervals are not meaningful
                                        "degenerate": bool(o == "linear" and eig.min() < 1e-6 * eig.max()),
                                        "best": {k: float(m.values[k]) for k in s}, "chi2_min": float(m.fval)}
                if len(s) == 2:
                    gx, gy, d2 = contour_grid(comb, (s[0], s[1]), o, fp.contour_points, span=6.0)
                    contours[f"{name}|{o}"] = (gx, gy, d2)
        # data vs SM (LO x N) vs best fit of the first set at O(1/Lambda^4), per dataset in its fit window
        first = list(fp.sets[0]) if fp.sets else []
        if first:
            mq = fit_minuit(comb, first, "quadratic")
            cbest = embed(ops, first, np.array([mq.values[k] for k in first]))
            for p in parts_shape:
                zero_c = np.zeros(len(ops))
                lo_vs_data[p.name]["window"] = {
                    "edges": p.dataset.edges.tolist(), "data": p.dataset.values.tolist(),
                    "err": p.dataset.errors.tolist(),
                    "sm_fit": (p.norm_hat(zero_c, "linear") * p.predict(zero_c, "linear")).tolist(),
                    "best_fit": (p.norm_hat(cbest, "quadratic") * p.predict(cbest, "quadratic")).tolist(),
                    "best_fit_point": {k: float(mq.values[k]) for k in first},
                }
        with atomic_path(out_dir / "contours.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{f"{k}|{a}": v for k, (gx, gy, d2) in contours.items()
                                for a, v in (("x", gx), ("y", gy), ("dchi2", d2))})
        timing["sets_contours"] = time.perf_counter() - t0 - sum(timing.values())
        samples = {}
        for s in fp.posterior_sets:
            name = "+".join(s)
            det["posteriors"][name] = {}
            for o in ORDERS:
                pp = fp.posterior
                post = sample_posterior(comb, list(s), o, pp.walkers, pp.steps, pp.burn, pp.box_sigma, pp.seed)
                det["posteriors"][name][o] = {
                    "marginalised": post.interval(fp.cl), "tau": post.tau.tolist(), "rhat": post.rhat.tolist(),
                    "n_steps": post.n_steps, "acceptance": post.acceptance, "converged": post.converged,
                    "n_samples": int(post.samples.shape[0]), "prior_box": post.box.tolist(),
                    "edge_fraction": post.edge_fraction,
                }
                samples[f"{name}|{o}"] = post.samples
                tag = "_".join(s)  # MLflow metric names allow no '+'
                run.log_metrics({f"posterior.{tag}.{o}.max_rhat": float(post.rhat.max()),
                                 f"posterior.{tag}.{o}.max_tau": float(post.tau.max())})
        with atomic_path(out_dir / "posterior_samples.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **samples)
        timing["posteriors"] = time.perf_counter() - t0 - sum(timing.values())
        # frequentist check on the real covariance: coverage of the 68 % single-operator interval (linear, clq1)
        if fp.toys:
            part = parts_shape[0]
            cov68, _ = interval_coverage(part, "clq1", 0.0, "linear", n_toys=fp.toys, seed=fp.posterior.seed)
            det["coverage_68"] = {"dataset": part.name, "operator": "clq1", "toys": fp.toys, "coverage": cov68}
        timing["coverage_toys"] = time.perf_counter() - t0 - sum(timing.values())
        det["seconds"] = time.perf_counter() - t0
        det["seconds_by_phase"] = timing
        det["sm_full_range"] = {k: v["full_range"] for k, v in lo_vs_data.items()}
        for k, v in lo_vs_data.items():
            e = np.asarray(v["edges"])
            r = np.asarray(v["lo_over_data"])
            below = (e[:-1] >= 60.0) & (e[1:] <= 86.0)
            if below.any():
                det["sm_full_range"][k]["lo_over_data_60_86"] = [float(r[below].min()), float(r[below].max())]
        write_json(metrics, fit_json)
        write_json(details, det)
        write_json(out_dir / "results.json", {"fit": fit_json, "details": det, "lo_vs_data": lo_vs_data})
        for f in (metrics, details, out_dir / "results.json", out_dir / "posterior_samples.npz",
                  out_dir / "contours.npz"):
            run.log_artifact(f)
        run.log_metrics({"seconds": det["seconds"]})
    return fit_json

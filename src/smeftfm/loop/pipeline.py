r"""The loop stage's study, end to end (no file I/O): default variant over seeds x draws, the exact upper bound,
controls, the coefficient scan, the authors' setting and the informer-driven loop.

Returns the runs (for traces and tables), ``loop.json`` metrics and the ``aletheia_scorecard.json`` contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .controller import Loop, LoopResult, Tier, collapse_factors, control_checks, unlock_triggered_extension
from .paper import PAPER
from .study import (
    build_draw,
    cycles_or_cap,
    gate_summary,
    oracle_side,
    paper_acceptance,
    paper_settings,
    run_gates,
    run_seeds,
    settings_from_params,
    spread,
    summary_row,
)

__all__ = ["StudyResult", "controls_and_scan", "default_variant", "informer_loop", "paper_variant", "run_study",
           "scorecard"]

Traced = Callable[..., LoopResult]


@dataclass
class StudyResult:
    """All runs by group name (each a list of (draw, result)) plus metrics and the scorecard."""

    runs: dict[str, list[tuple[int, LoopResult]]] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    scorecard: dict = field(default_factory=dict)
    informer_rows: list[dict] = field(default_factory=list)


def _plain(loop: Loop, name: str, **kw) -> LoopResult:
    return loop.run(**kw)


def _with_draws(results: list[LoopResult], n_seeds: int) -> list[tuple[int, LoopResult]]:
    return [(i // n_seeds, r) for i, r in enumerate(results)]


def default_variant(params, tiers: tuple[Tier, ...], traced: Traced, out: StudyResult) -> tuple[list[Loop], dict]:
    """Residual-energy, EPIG and random arms (default extension) and the exact upper bound over seeds x draws."""
    lp = params.loop
    settings = settings_from_params(params, tiers)
    side = oracle_side(params, settings.operators)
    loops, setups = [], []
    for d in range(lp.probe_draws):
        loop, setup = build_draw(params, side, settings, d)
        loops.append(loop)
        setups.append(setup)
    t0 = time.perf_counter()
    arms = {arm: run_seeds(loops, lp.seeds, arm, lp.extension, traced, arm)
            for arm in ("residual_energy", "epig", "random")}
    seconds_arms = time.perf_counter() - t0
    exact = run_seeds(loops, lp.seeds, "residual_energy", "exact", traced, "exact_upper_bound")
    n = len(lp.seeds)
    for arm, res in arms.items():
        out.runs[arm] = _with_draws(res, n)
    out.runs["exact_upper_bound"] = _with_draws(exact, n)
    per_run = [run_gates(m, r) for m, r in zip(arms["residual_energy"], arms["random"], strict=True)]
    gsum = gate_summary(per_run)
    completed = [r.final_check_val_sigma1 for res in arms.values() for r in res if r.completed]
    cf = [collapse_factors(r) for r in arms["residual_energy"]]
    cfe = [collapse_factors(r) for r in exact]
    metrics = {
        "gates": {g: v["holds"] for g, v in gsum.items()},
        "gates_spread": gsum,
        "gates_passed": int(sum(v["holds"] for v in gsum.values())),
        "gates_per_run": per_run,
        "cycles_per_run": {arm: [r.cycles_to_completion for r in res] for arm, res in arms.items()},
        "cycles_to_completion": {"residual_energy": arms["residual_energy"][0].cycles_to_completion,
                                 "epig": arms["epig"][0].cycles_to_completion,
                                 "random_median": spread([cycles_or_cap(r) for r in arms["random"]])["median"]},
        "collapse": collapse_factors(arms["residual_energy"][0]),
        "n_extensions": {arm: [r.n_extensions for r in res] for arm, res in arms.items()},
        "collapse_spread": {k: spread([c[k] for c in cf]) for k in ("first", "first_val", "overall", "overall_val")},
        "exact_upper_bound": {
            "cycles_to_completion": [r.cycles_to_completion for r in exact],
            "collapse_spread": {k: spread([c[k] for c in cfe]) for k in ("first", "first_val")},
            "n_extensions": [r.n_extensions for r in exact]},
        "unlock_triggered_extension": unlock_triggered_extension(arms["residual_energy"][0]),
        "unlock_triggered_extension_per_run": [unlock_triggered_extension(r) for r in arms["residual_energy"]],
        "extension_leading_share": [[e.leading_share for e in r.extensions] for r in arms["residual_energy"]],
        "completed_val_sigma1_max": max(completed) if completed else None,
        "n_completed_runs": len(completed),
        "setup": setups,
        "seconds_arms": seconds_arms,
    }
    return loops, metrics


def controls_and_scan(params, tiers, loops: list[Loop], traced: Traced, out: StudyResult) -> dict:
    """Controls (no extension; random direction) and the coefficient-box scan, on draw 0 with the first seed."""
    lp = params.loop
    s0 = lp.seeds[0]
    loop = loops[0]
    no_ext = traced(loop, "control_no_extension", arm="residual_energy", extension="none", seed=s0)
    rnd = traced(loop, "control_random_direction", arm="residual_energy", extension="random", seed=s0)
    out.runs["control_no_extension"] = [(0, no_ext)]
    out.runs["control_random_direction"] = [(0, rnd)]
    scan = []
    for cm in lp.coeff_scan:
        sl = Loop(loop.probe, loop.valid, loop.kmap, loop.dictionary, replace(loop.s, coeff_max=cm), loop.operators,
                  fit=loop.fit)
        main = sl.run("residual_energy", extension=lp.extension, seed=s0)
        rand = [sl.run("random", extension=lp.extension, seed=s) for s in lp.seeds[:2]]
        out.runs[f"scan_c{cm:g}"] = [(0, main)]
        scan.append({"coeff_max": cm, **summary_row(f"scan_c{cm:g}", main, 0),
                     "random_cycles_per_seed": [r.cycles_to_completion for r in rand],
                     "random_n_extensions": [r.n_extensions for r in rand]})
    return {"controls": control_checks(no_ext, rnd, loop.s.floor), "coeff_scan": scan}


def paper_variant(params, tiers, traced: Traced, out: StudyResult) -> dict:
    """The authors' setting (window, floor, grid pools, silence window, extend while sigma_1 > floor)."""
    lp = params.loop
    settings = paper_settings(params, tiers)
    side = oracle_side(params, settings.operators, paper_acceptance(params))
    loops = [build_draw(params, side, settings, d)[0] for d in range(lp.probe_draws)]
    res = run_seeds(loops, lp.seeds, "residual_energy", lp.extension, traced, "paper")
    res_exact = run_seeds(loops, lp.seeds, "residual_energy", "exact", None)
    out.runs["paper"] = _with_draws(res, len(lp.seeds))
    out.runs["paper_exact"] = _with_draws(res_exact, len(lp.seeds))
    acc = side.oracle.acceptance
    nocut = side.oracle.integrated_terms(acc.m_lo, acc.m_hi, cuts=False, order="quadratic")[0]

    def block(rs):
        return {"n_extensions": [r.n_extensions for r in rs],
                "sigma1_cycle0": [r.records[0].sigma1_pre for r in rs],
                "unlock_triggered_extension": [unlock_triggered_extension(r) for r in rs],
                "cycles_to_completion": [r.cycles_to_completion for r in rs],
                "leading_extensions": [sum(1 for e in r.extensions if e.tier == "leading") for r in rs],
                "collapse_first": spread([collapse_factors(r)["first"] for r in rs]),
                "collapse_first_val": spread([collapse_factors(r)["first_val"] for r in rs]),
                "collapse_overall": spread([collapse_factors(r)["overall"] for r in rs])}

    return {**block(res), "exact": block(res_exact),
            "settings": {"mll_window": list(params.loop.paper.mll_window), "floor": settings.floor,
                         "patience": settings.patience, "pool": settings.pool, "extend_rule": settings.extend_rule,
                         "lepton_cuts": bool(acc.lepton_cuts)},
            "acceptance_fraction_of_no_cut_rate": float(side.sigma_terms[0] / nocut)}


def informer_loop(params, tiers, model_dir: Path, loops: list[Loop], out: StudyResult) -> dict:
    """psi_0 = trained informer features, per checkpoint and feature set; relates sigma_1 to tangent R^2."""
    from .informer_basis import checkpoints, feature_function, informer_psi, tangent_r2

    lp = params.loop
    loop0 = loops[0]
    rows = []
    ext = lp.informer.extension

    def one(label: str, seed: int | None, step: int | None, features: str, psi) -> dict:
        lo = Loop(loop0.probe, loop0.valid, loop0.kmap, loop0.dictionary, loop0.s, loop0.operators,
                  fit=loop0.fit, base_psi=psi)
        r = lo.run("residual_energy", extension=ext, seed=lp.seeds[0])
        out.runs[f"informer_{label}_{features}"] = [(0, r)]
        r2 = tangent_r2(lo.projector(psi), lo.probe, lo.valid)
        return {"checkpoint": label, "informer_seed": seed, "step": step, "features": features,
                "psi_dim": psi.dim, "completed": r.completed, "cycles": r.cycles_to_completion,
                "val_sigma1_final": r.records[-1].audit_sigma1_val, "probe_sigma1_final": r.records[-1].audit_sigma1,
                "tangent_r2": [float(x) for x in r2], "tangent_r2_min": float(np.min(r2)),
                "final_check_val_sigma1": r.final_check_val_sigma1}

    rows.append(one("mass_polynomials", None, None, "mass", loop0.base_psi))
    for ck in checkpoints(model_dir):
        for learned_only in (False, True):
            phi, width = feature_function(model_dir, ck, loop0.kmap, learned_only)
            rows.append(one(ck.label, ck.seed, ck.step, "learned" if learned_only else "full",
                            informer_psi(phi, width, loop0.kmap, loop0.dictionary)))
    out.informer_rows = rows
    final = [r for r in rows if r["step"] is None and r["features"] == "full"]
    final_learned = [r for r in rows if r["step"] is None and r["features"] == "learned"]

    def head(rs):
        if not rs:
            return {"completed": False, "val_sigma1_final": None, "tangent_r2_min": None}
        return {"completed": 2 * sum(r["completed"] for r in rs) > len(rs),
                "val_sigma1_final": float(np.median([r["val_sigma1_final"] for r in rs])),
                "tangent_r2_min": float(np.median([r["tangent_r2_min"] for r in rs]))}

    return {"headline": head(final), "learned_only": head(final_learned), "rows": rows, "extension": ext,
            "coeff_max": loop0.s.coeff_max}


def scorecard(default: dict, paper: dict, inf_loop: dict | None, informer: dict, floor: float) -> dict:
    """``reports/metrics/aletheia_scorecard.json`` with exactly the issue's keys (null for never-completed runs)."""
    gs = default["gates_spread"]
    il = (inf_loop or {}).get("headline") or {"completed": False, "val_sigma1_final": None, "tangent_r2_min": None}
    return {
        "default": {
            "gates": {g: {"median": v["median"], "n_pass": v["n_pass"], "n_seeds": v["n_seeds"]}
                      for g, v in gs.items()},
            "cycles_to_completion": {arm: default["cycles_per_run"][arm]
                                     for arm in ("residual_energy", "epig", "random")},
            "completed_val_sigma1_max": default["completed_val_sigma1_max"],
            "floor": floor,
        },
        "informer_loop": {"completed": bool(il["completed"]), "val_sigma1_final": il["val_sigma1_final"],
                          "tangent_r2_min": il["tangent_r2_min"]},
        "paper_settings": {k: paper[k] for k in ("n_extensions", "sigma1_cycle0", "unlock_triggered_extension")},
        "informer": {"tangent_r2_min_learned_only": informer.get("tangent_r2_min_learned_only"),
                     "tangent_r2_min": informer.get("tangent_r2_min"),
                     "n_seeds": informer.get("n_seeds")},
    }


def run_study(params, tiers: tuple[Tier, ...], traced: Traced | None = None, informer_dir: Path | None = None,
              informer_metrics: dict | None = None) -> StudyResult:
    """Every run of the loop stage; ``traced(loop, name, **run_kwargs)`` wraps runs in traces when given."""
    traced = traced or _plain
    out = StudyResult()
    t0 = time.perf_counter()
    loops, default = default_variant(params, tiers, traced, out)
    extra = controls_and_scan(params, tiers, loops, traced, out)
    paper = paper_variant(params, tiers, traced, out)
    inf = informer_loop(params, tiers, informer_dir, loops, out) \
        if informer_dir is not None and params.loop.informer.enabled else None
    im = informer_metrics or {}
    informer_summary = {"tangent_r2_min_learned_only": im.get("tangent_r2_min_learned_only"),
                        "tangent_r2_min": im.get("tangent_r2_min"), "n_seeds": im.get("n_seeds")}
    s = loops[0].s
    out.metrics = {**default, **extra, "paper_settings": paper, "informer_loop": inf, "paper": PAPER,
                   "settings": {"floor": s.floor, "fingerprint": s.fingerprint, "patience": s.patience,
                                "n_probe": params.loop.n_probe, "psi_init_dim": s.psi_init_dim,
                                "coeff_max": s.coeff_max, "extension": params.loop.extension,
                                "candidates_after_unlock": s.candidates_after_unlock, "seeds": list(params.loop.seeds),
                                "probe_draws": params.loop.probe_draws,
                                "tiers": {t.name: list(t.operators) for t in tiers}},
                   "seconds": {"stage_study": time.perf_counter() - t0}}
    out.scorecard = scorecard(default, paper, inf, informer_summary, s.floor)
    return out

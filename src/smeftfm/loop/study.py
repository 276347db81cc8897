r"""Orchestration of the loop study: event draws, seeds x arms, gates with spread, variants (``docs/aletheia.md``).

* An **event draw** d is one set of (probe, validation, fit) events from ``SeedSequence([loop.seed, d])``; the
  oracle and the integrated terms are shared by all draws.
* Every arm runs every loop seed on every draw; a **run** is one (seed, draw) pair.
* **Pass rule** (fixed before running, ``docs/aletheia.md`` §5): a gate holds when it holds on the median run
  (strictly more than half of the runs) and on at least 80 % of the runs (4 of 5 seeds, 8 of 10 runs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..data.events import tilt_weights
from ..physics.kinematics import Acceptance, KinematicMap
from ..physics.oracle import Oracle, oracle_from_params, quadrature_from_params
from .basis import FeatureDictionary, Psi
from .controller import FitSet, Loop, LoopResult, LoopSettings, Tier, collapse_factors, unlock_triggered_extension
from .likelihood import LogLikelihoodRatio, probe_set

__all__ = ["GATES", "OracleSide", "PASS_FRACTION", "build_draw", "cycles_or_cap", "gate_summary",
           "oracle_side", "paper_acceptance", "paper_settings", "run_gates", "run_seeds", "settings_from_params",
           "spread", "summary_row"]

GATES = ("extension_occurred", "all_tiers_unlocked", "manifold_completed", "acquisition_no_slower_than_random")
PASS_FRACTION = 0.8


@dataclass(frozen=True)
class OracleSide:
    """The oracle, its integrated quadratic terms in the acceptance (pb), the kinematic map and the dictionary."""

    oracle: Oracle
    sigma_terms: np.ndarray
    kmap: KinematicMap
    dictionary: FeatureDictionary


def settings_from_params(params, tiers: tuple[Tier, ...]) -> LoopSettings:
    """Default-variant :class:`LoopSettings` from ``params.loop``."""
    lp = params.loop
    return LoopSettings(tiers=tiers, psi_init_dim=lp.psi_init_dim, floor=lp.floor, fingerprint=lp.fingerprint,
                        patience=lp.patience, max_cycles=lp.max_cycles, n_candidates=lp.n_candidates,
                        coeff_max=lp.coeff_max, ridge=lp.epig_ridge, seed=lp.seed,
                        candidates_after_unlock=lp.candidates_after_unlock)


def paper_settings(params, tiers: tuple[Tier, ...]) -> LoopSettings:
    """The authors' setting: floor 0.30, fixed 9-point grids, silence window 3, extend while sigma_1 > floor."""
    pp = params.loop.paper
    return replace(settings_from_params(params, tiers), floor=pp.floor, patience=pp.patience, pool=pp.pool,
                   extend_rule=pp.extend_rule, candidates_after_unlock=pp.candidates_after_unlock)


def oracle_side(params, operators: Sequence[str], acceptance: Acceptance | None = None) -> OracleSide:
    """Oracle (default acceptance from ``params.observables`` or ``acceptance``) and its integrated terms."""
    oracle = oracle_from_params(params, tuple(operators))
    if acceptance is not None:
        oracle = Oracle(operators=oracle.operators, pdf=oracle.pdf, ew=oracle.ew, acceptance=acceptance)
    acc = oracle.acceptance
    sigma = oracle.integrated_terms(acc.m_lo, acc.m_hi, cuts=True, order="quadratic",
                                    spec=quadrature_from_params(params))
    kmap = KinematicMap.from_oracle(oracle)
    y_kin = math.log(oracle.ew.sqrt_s / acc.m_lo)
    if kmap.y_max > y_kin:  # no rapidity cut: scale |y| by its kinematic limit instead
        kmap = replace(kmap, y_max=y_kin)
    d = params.loop.dictionary
    return OracleSide(oracle, sigma, kmap, FeatureDictionary(kmap, d.mass_degree, d.cos_degree, d.rapidity_degree))


def paper_acceptance(params) -> Acceptance:
    """The authors' probe window; without lepton cuts unless ``loop.paper.lepton_cuts`` (then the observables')."""
    pp, ob = params.loop.paper, params.observables
    lo, hi = pp.mll_window
    if not pp.lepton_cuts:
        return Acceptance.no_cuts(lo, hi)
    return Acceptance(eta_max=ob.eta_max, pt_min=ob.pt_min, m_lo=lo, m_hi=hi)


def build_draw(params, side: OracleSide, settings: LoopSettings, draw: int,
               base_psi: Psi | None = None) -> tuple[Loop, dict]:
    """Probe, validation and fit events of draw ``draw`` and the :class:`Loop` on them (plus set-up figures)."""
    lp = params.loop
    t0 = time.perf_counter()
    rp, rv, rf = (np.random.default_rng(s) for s in np.random.SeedSequence([lp.seed, draw]).spawn(3))
    ops = settings.operators
    n_ops = len(ops)
    probe = LogLikelihoodRatio(probe_set(side.oracle, lp.n_probe, rp), side.sigma_terms, n_ops)
    valid = LogLikelihoodRatio(probe_set(side.oracle, lp.n_probe, rv), side.sigma_terms, n_ops)
    fs = probe_set(side.oracle, lp.n_fit, rf, mass_tilt=lp.fit_mass_tilt)
    fit = FitSet(LogLikelihoodRatio(fs, side.sigma_terms, n_ops),
                 tilt_weights(fs.m, lp.fit_mass_tilt, side.oracle.acceptance.m_lo))
    loop = Loop(probe, valid, side.kmap, side.dictionary, settings, ops, fit=fit, base_psi=base_psi)
    corners = np.array(np.meshgrid(*[[-settings.coeff_max, settings.coeff_max]] * n_ops)).reshape(n_ops, -1).T
    w = np.exp(valid(corners))
    pull = np.abs(w.mean(axis=0) - 1.0) / (w.std(axis=0) / math.sqrt(w.shape[0]))
    setup = {"setup_seconds": time.perf_counter() - t0, "norm_check_max_pull": float(pull.max()),
             "probe_frac_mll_above_200": float(np.mean(probe.probe.m > 200.0)),
             "probe_frac_mll_above_400": float(np.mean(probe.probe.m > 400.0)),
             "sigma_sm_acceptance_pb": float(side.sigma_terms[0])}
    return loop, setup


def cycles_or_cap(res: LoopResult) -> float:
    """Cycles to completion; a run that never completes counts as its number of cycles + 1."""
    c = res.cycles_to_completion
    return float(c) if c is not None else float(len(res.records) + 1)


def run_gates(main: LoopResult, random: LoopResult) -> dict[str, bool]:
    """The four gates of one run (same seed and draw for the acquisition arm and the random arm)."""
    return {
        "extension_occurred": main.n_extensions > 0,
        "all_tiers_unlocked": len(main.unlocked) == main.n_tiers,
        "manifold_completed": bool(main.completed),
        "acquisition_no_slower_than_random": bool(main.completed and cycles_or_cap(main) <= cycles_or_cap(random)),
    }


def gate_summary(per_run: Sequence[dict[str, bool]]) -> dict[str, dict]:
    """Per gate: ``{"median": bool, "n_pass": int, "n_seeds": int, "holds": bool}`` (pass rule in the docstring)."""
    out = {}
    n = len(per_run)
    for g in GATES:
        k = int(sum(bool(r[g]) for r in per_run))
        median = 2 * k > n
        out[g] = {"median": median, "n_pass": k, "n_seeds": n, "holds": bool(median and k >= PASS_FRACTION * n)}
    return out


def run_seeds(loops: Sequence[Loop], seeds: Sequence[int], arm: str, extension: str,
              traced: Callable[..., LoopResult] | None = None, name: str = "") -> list[LoopResult]:
    """One run per (draw, seed), draws outer; ``traced`` wraps a run in a trace when given."""
    out = []
    for d, loop in enumerate(loops):
        for s in seeds:
            if traced is not None:
                out.append(traced(loop, f"{name}_d{d}_s{s}", arm=arm, extension=extension, seed=s))
            else:
                out.append(loop.run(arm, extension=extension, seed=s))
    return out


def summary_row(name: str, res: LoopResult, draw: int | None = None) -> dict:
    """One run's outcome in a flat dict (Table-2 read-outs)."""
    cf = collapse_factors(res)
    return {"run": name, "arm": res.arm, "extension": res.extension, "seed": res.seed, "draw": draw,
            "completed": res.completed, "cycles_to_completion": res.cycles_to_completion,
            "n_extensions": cf["n_extensions"], "collapse_first": cf["first"], "collapse_overall": cf["overall"],
            "collapse_first_val": cf["first_val"], "collapse_overall_val": cf["overall_val"],
            "unlock_triggers_extension": unlock_triggered_extension(res), "final_psi_dim": res.psi.dim,
            "sigma1_cycle0": res.records[0].sigma1_pre if res.records else float("nan"),
            "final_check_val_sigma1": res.final_check_val_sigma1,
            "last_audit_val_sigma1": res.records[-1].audit_sigma1_val if res.records else float("nan")}


def spread(values: Sequence[float | None]) -> dict:
    """Median, min, max of the finite values (None when there are none) and how many there are."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}

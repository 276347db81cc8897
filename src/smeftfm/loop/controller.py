"""The complete-then-expand controller: acquire, residualise, psi-extend, audit, unlock the next tier, stop.

One cycle (``docs/aletheia.md`` has the precise definitions):

1. draw the candidate pools (one per unlocked tier; the acquisition uses the newest tier's pool after an unlock
   by default) and acquire one working point with the chosen arm;
2. append its log-likelihood ratio to the arm's history; R = (I - P_psi) [l_C1 ... l_Ck] on the probe events;
   record sigma_1 (pre), sigma_2 and the fingerprint sigma_1/sigma_2;
3. if the extension rule fires (sigma_1 > floor and, by default, k >= 2 and sigma_1/sigma_2 > fingerprint):
   psi-extend with a function of the event along the dominant residual direction (``kinematic``: a dictionary
   function of (m_ll, y, cos theta_CS) fitted on an independent event set; ``exact``: the oracle's own morphing
   combination, the upper bound), record sigma_1 (post) on the probe and the validation set and the direction's
   tier composition;
4. the completion audit (:mod:`smeftfm.loop.audit`, arm independent): every candidate of every unlocked tier must
   leave sigma_1 <= floor on the probe and the validation events; ``patience`` consecutive passes complete the
   active tier: unlock the next tier, or end the loop after the last one.

``extension='none'`` and ``'random'`` are the controls (no extension; a random dictionary function appended instead
of the fitted direction).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import SmeftfmError
from ..models.ridge import RidgeHead
from ..physics.kinematics import KinematicMap
from .acquisition import ARMS, choose
from .audit import Audit, Projector, audit_pool
from .basis import FeatureDictionary, Psi
from .likelihood import LogLikelihoodRatio
from .pools import box_pool, tier_pool, tier_shares
from .residual import Spectrum, fit_direction, fit_gram, fit_weighted, leading_singular_vectors
from .tracing import NullTracer

__all__ = ["EXTENSIONS", "CycleRecord", "FitSet", "Loop", "LoopResult", "LoopSettings", "Tier", "collapse_factors",
           "control_checks", "gates", "unlock_triggered_extension"]

Extension = Literal["kinematic", "exact", "dictionary", "none", "random"]
EXTENSIONS: tuple[str, ...] = ("kinematic", "exact", "dictionary", "none", "random")


@dataclass(frozen=True)
class Tier:
    """A power-counting tier: its name and operators (SMEFTsim names)."""

    name: str
    operators: tuple[str, ...]


@dataclass(frozen=True)
class LoopSettings:
    """Fixed hyper-parameters of the loop (units: sigma in sqrt(sum_events l^2), coefficients at Lambda).

    ``pool``: 'box' (uniform, ``n_candidates`` per tier and cycle) or 'grid' (the authors' fixed 9-point positive
    pools); ``candidates_after_unlock``: 'new_tier' (clean tiers) or 'all' (the box over every unlocked operator);
    ``extend_rule``: 'fingerprint' (one extension when sigma_1 > floor, >= 2 columns and sigma_1/sigma_2 >
    fingerprint) or 'above_floor' (extend while sigma_1 > floor, at most once per acquired column).
    """

    tiers: tuple[Tier, ...]
    psi_init_dim: int = 5
    floor: float = 1.0
    fingerprint: float = 2.0
    patience: int = 2
    max_cycles: int = 30
    n_candidates: int = 256
    coeff_max: float = 1.0
    ridge: float = 1e-3
    fit_ridge_rel: float = 1e-8
    seed: int = 11
    pool: Literal["box", "grid"] = "box"
    candidates_after_unlock: Literal["new_tier", "all"] = "new_tier"
    extend_rule: Literal["fingerprint", "above_floor"] = "fingerprint"
    final_check_factor: int = 4

    def __post_init__(self) -> None:
        if not self.tiers or any(not t.operators for t in self.tiers):
            raise SmeftfmError("the loop needs at least one tier with at least one operator (loop.leading)")
        ops = self.operators
        if len(set(ops)) != len(ops):
            raise SmeftfmError(f"an operator appears in two tiers: {ops}; each operator belongs to one tier")
        if self.floor <= 0 or self.fingerprint <= 1 or self.patience < 1 or self.max_cycles < 1:
            raise SmeftfmError("need loop.floor > 0, loop.fingerprint > 1, loop.patience >= 1, loop.max_cycles >= 1")
        if self.pool not in ("box", "grid") or self.candidates_after_unlock not in ("new_tier", "all") \
                or self.extend_rule not in ("fingerprint", "above_floor"):
            raise SmeftfmError("loop pool must be box|grid, candidates_after_unlock new_tier|all, "
                               "extend_rule fingerprint|above_floor")

    @property
    def operators(self) -> tuple[str, ...]:
        return tuple(o for t in self.tiers for o in t.operators)


@dataclass
class CycleRecord:
    """One row of the trace (sigma values are raw singular values of R)."""

    cycle: int
    tier: str
    n_columns: int
    psi_dim: int
    sigma1_pre: float
    sigma2_pre: float
    sigma_ratio: float
    sigma1_post: float
    sigma1_val_pre: float
    sigma1_val_post: float
    action: str
    fingerprint_fired: bool
    score: float
    alignment: float
    audit_sigma1: float
    coeffs: list[float]
    events: list[tuple[str, dict]] = field(default_factory=list)
    seconds: float = 0.0
    audit_sigma1_val: float = float("nan")
    audit_n_above: int = 0
    n_extensions: int = 0
    leading_share: float = float("nan")


@dataclass
class LoopResult:
    """The trace of one loop run plus its outcome."""

    arm: str
    extension: str
    seed: int
    operators: tuple[str, ...]
    records: list[CycleRecord]
    completed: bool
    unlocked: list[str]
    n_tiers: int
    psi: Psi
    final_check_val_sigma1: float | None = None
    coeff_max: float = float("nan")

    @property
    def cycles_to_completion(self) -> int | None:
        """Number of cycles until the last tier completed (None if it never did)."""
        return len(self.records) if self.completed else None

    @property
    def extensions(self) -> list[CycleRecord]:
        return [r for r in self.records if r.n_extensions > 0 or r.action == "psi_extend"]

    @property
    def n_extensions(self) -> int:
        return int(sum(max(r.n_extensions, int(r.action == "psi_extend")) for r in self.records))

    def frame(self) -> pd.DataFrame:
        rows = []
        for r in self.records:
            d = asdict(r)
            d.pop("events")
            coeffs = d.pop("coeffs")
            d.update({f"C_{o}": c for o, c in zip(self.operators, coeffs)})
            d["events"] = ",".join(e[0] for e in r.events)
            d.update(arm=self.arm, extension=self.extension, seed=self.seed)
            rows.append(d)
        return pd.DataFrame(rows)


def _context_keys(l_cols: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Deep-Sets context rows of working points relative to the SM: E_C[psi_hat] - E_SM[psi_hat], [M, r].

    ``psi_hat = sqrt(N) Q`` are the whitened features on the probe events; E_C is computed exactly by reweighting
    the SM probe events with ``exp(l_C)`` (self-normalised).
    """
    w = np.exp(l_cols - l_cols.max(axis=0, keepdims=True))
    w /= w.sum(axis=0, keepdims=True)
    qh = q * math.sqrt(q.shape[0])
    return w.T @ qh - qh.mean(axis=0)[None, :]


@dataclass(frozen=True)
class FitSet:
    """An independent event set (weighted back to the SM) on which kinematic extensions are fitted."""

    llr: LogLikelihoodRatio
    weights: np.ndarray


class Loop:
    """Holds the precomputed probe/validation quantities and runs the controller for one arm.

    ``fit``: the event set the ``kinematic`` extension is fitted on (required for that mode); ``base_psi``: the
    initial psi (default: the mass polynomials of dimension ``settings.psi_init_dim``).
    """

    def __init__(self, probe: LogLikelihoodRatio, valid: LogLikelihoodRatio, kmap: KinematicMap,
                 dictionary: FeatureDictionary, settings: LoopSettings, operators: Sequence[str],
                 fit: FitSet | None = None, base_psi: Psi | None = None):
        self.probe, self.valid, self.kmap, self.dictionary, self.s = probe, valid, kmap, dictionary, settings
        self.fit = fit
        self.operators = tuple(operators)
        if set(self.operators) != set(settings.operators):
            raise SmeftfmError(f"the oracle's operators {self.operators} differ from the tiers' {settings.operators}")
        for ll in (probe, valid) + ((fit.llr,) if fit is not None else ()):
            if ll.n_operators != len(self.operators):
                raise SmeftfmError("probe terms were built for a different operator set; rebuild the probe sets")
        p, v = probe.probe, valid.probe
        self.d_probe = dictionary(p.m, p.y, p.cos)
        self.d_valid = dictionary(v.m, v.y, v.cos)
        self.d_fit = None if fit is None else dictionary(fit.llr.probe.m, fit.llr.probe.y, fit.llr.probe.cos)
        self._fit_gram = None  # D^T W D on the fit set (fixed), computed on the first kinematic extension
        self.tier_masks = [np.isin(self.operators, t.operators) for t in settings.tiers]
        self.base_psi = base_psi or Psi(settings.psi_init_dim, kmap, dictionary)

    def projector(self, psi: Psi) -> Projector:
        """span(psi) fitted on the probe events (and its out-of-sample map to the validation events)."""
        p, v = self.probe.probe, self.valid.probe
        return Projector.fit(psi.evaluate(p.m, p.y, p.cos, self.d_probe, self.probe),
                             psi.evaluate(v.m, v.y, v.cos, self.d_valid, self.valid))

    # ------------------------------------------------------------------------------------------ pools
    def pools(self, seed: int, cycle: int, n_unlocked: int, n: int | None = None) -> list[np.ndarray]:
        """The candidate pool of each unlocked tier in this cycle."""
        s = self.s
        return [tier_pool(s.pool, seed, cycle, t, self.tier_masks[t], s.coeff_max, n or s.n_candidates)
                for t in range(n_unlocked)]

    def acquisition_pool(self, seed: int, cycle: int, n_unlocked: int, pools: list[np.ndarray]) -> np.ndarray:
        s = self.s
        if s.candidates_after_unlock == "new_tier" or n_unlocked == 1 or s.pool == "grid":
            return pools[n_unlocked - 1]
        unlocked = np.any(self.tier_masks[:n_unlocked], axis=0)
        return box_pool(np.random.default_rng([seed, cycle, 1009]), unlocked, s.coeff_max, s.n_candidates)

    def audit(self, proj: Projector, pools: list[np.ndarray]) -> Audit:
        """The completion audit over the candidates of every unlocked tier (independent of any history)."""
        c = np.concatenate(pools, axis=0)
        return audit_pool(proj, self.probe(c), self.valid(c), self.s.floor)

    def final_check(self, proj: Projector, seed: int, n_unlocked: int) -> float:
        """Largest validation sigma_1 over a fresh pool (``final_check_factor`` x larger) at completion."""
        n = self.s.n_candidates * self.s.final_check_factor
        pools = self.pools(seed + 1_000_003, 0, n_unlocked, n)
        return self.audit(proj, pools).max_valid

    # ------------------------------------------------------------------------------------------ extension
    def _extend(self, psi: Psi, mode: str, hist_c: np.ndarray, l_hist: np.ndarray, r: np.ndarray,
                proj: Projector, label: str, rng: np.random.Generator) -> tuple[Psi, float, float]:
        """One psi-extension along the dominant residual direction: (new psi, alignment, leading-tier share)."""
        u1, v1 = leading_singular_vectors(r)
        share = float(tier_shares(hist_c, v1, self.tier_masks)[0])
        if mode == "exact":
            return psi.extend_morphing(hist_c, v1, label), 1.0, share
        if mode == "kinematic":
            if self.fit is None:
                raise SmeftfmError("the kinematic extension needs an independent fit event set (Loop(fit=...))")
            if self._fit_gram is None:
                self._fit_gram = fit_gram(self.d_fit, self.fit.weights, self.s.fit_ridge_rel)
            beta = fit_weighted(self.fit.llr(hist_c) @ v1, self.d_fit, self.fit.weights, gram=self._fit_gram)
        elif mode == "dictionary":
            beta = fit_direction(u1, self.d_probe, self.s.fit_ridge_rel)
        else:  # random control
            beta = rng.standard_normal(self.dictionary.size)
        g_res = proj.residual(self.d_probe @ beta)
        align = float((u1 @ g_res) ** 2 / max(g_res @ g_res, 1e-300))
        return psi.extend_dictionary(beta, label), align, share

    # ------------------------------------------------------------------------------------------ run
    def run(self, arm: str = "residual_energy", extension: Extension = "kinematic", seed: int | None = None,
            tracer=None, max_cycles: int | None = None) -> LoopResult:
        """Run the loop until the last tier completes or ``max_cycles`` cycles were made."""
        if arm not in ARMS:
            raise SmeftfmError(f"unknown acquisition arm '{arm}'; use one of {ARMS}")
        if extension not in EXTENSIONS:
            raise SmeftfmError(f"unknown extension mode '{extension}'; use one of {EXTENSIONS}")
        s = self.s
        seed = s.seed if seed is None else seed
        tracer = tracer or NullTracer()
        arm_rng = np.random.default_rng([seed, 7919, ARMS.index(arm)])
        ext_rng = np.random.default_rng([seed, 104729])
        psi = self.base_psi
        proj = self.projector(psi)
        n_unlocked, streak, completed = 1, 0, False
        hist_c: list[np.ndarray] = []
        l_hist = np.zeros((self.probe.probe.n, 0))
        lv_hist = np.zeros((self.valid.probe.n, 0))
        records: list[CycleRecord] = []
        for cycle in range(max_cycles or s.max_cycles):
            t0 = time.perf_counter()
            tier = s.tiers[n_unlocked - 1]
            pools = self.pools(seed, cycle, n_unlocked)
            cand = self.acquisition_pool(seed, cycle, n_unlocked, pools)
            if s.pool == "grid" and hist_c:  # a fixed pool: acquire each point once
                seen = np.array(hist_c)
                cand = cand[~np.any(np.all(np.isclose(cand[:, None, :], seen[None]), axis=2), axis=1)]
            score, c_new = float("nan"), None
            if cand.shape[0]:
                l_cand = self.probe(cand)
                head = keys_cand = None
                if arm == "epig":
                    keys_cand = _context_keys(l_cand, proj.q)
                    keys_hist = _context_keys(l_hist, proj.q) if hist_c else np.zeros((0, proj.rank))
                    head = RidgeHead.fit(keys_hist, keys_hist, s.ridge)
                j, score = choose(arm, arm_rng, r_hist=proj.residual(l_hist), r_cand=proj.residual(l_cand),
                                  head=head, keys_cand=keys_cand)
                c_new = cand[j]
                hist_c.append(c_new)
                l_hist = np.concatenate([l_hist, l_cand[:, j : j + 1]], axis=1)
                lv_hist = np.concatenate([lv_hist, self.valid(c_new[None, :])], axis=1)
            r = proj.residual(l_hist)
            pre, val_pre = Spectrum.of(r), Spectrum.of(proj.residual_valid(l_hist, lv_hist))

            def fires(sp: Spectrum) -> bool:
                if sp.sigma1 <= s.floor:
                    return False
                return s.extend_rule == "above_floor" or (sp.n_columns >= 2 and sp.ratio > s.fingerprint)

            fired = fires(pre)
            post, val_post, align, share, n_ext = pre, val_pre, float("nan"), float("nan"), 0
            events: list[tuple[str, dict]] = []
            action = "acquire" if c_new is not None else "pool_exhausted"
            max_ext = 1 if s.extend_rule == "fingerprint" else pre.n_columns
            while extension != "none" and n_ext < max_ext and fires(post):
                old = (psi, proj, r, val_post)
                psi, a, sh = self._extend(psi, extension, np.array(hist_c), l_hist, r, proj,
                                          f"cycle{cycle}.{n_ext}", ext_rng)
                proj = self.projector(psi)
                r = proj.residual(l_hist)
                new_post = Spectrum.of(r)
                val_post = Spectrum.of(proj.residual_valid(l_hist, lv_hist))
                info = {"psi_dim": psi.dim, "sigma1_pre": post.sigma1, "sigma1_post": new_post.sigma1,
                        "collapse": post.sigma1 / new_post.sigma1 if new_post.sigma1 > 0 else float("inf"),
                        "sigma1_val_post": val_post.sigma1, "alignment": a, "mode": extension,
                        "leading_share": sh, "tier": tier.name}
                if new_post.sigma1 > 0.999 * post.sigma1 and extension != "random":
                    # the fitted function does not lower sigma_1 (a fit the dictionary cannot express): not kept
                    psi, proj, r, val_post = old
                    events.append(("psi_extend_rejected", info))
                    break
                events.append(("psi_extend", info))
                if n_ext == 0:
                    align, share = a, sh
                n_ext += 1
                stalled = new_post.sigma1 > 0.999 * post.sigma1
                post = new_post
                if stalled:  # the random control: one append per firing
                    break
            if n_ext:
                action = "psi_extend"
            elif fired:
                action = "fingerprint"
            aud = self.audit(proj, pools)
            streak = streak + 1 if aud.passed else 0
            if streak >= s.patience:
                streak = 0
                if n_unlocked < len(s.tiers):
                    n_unlocked += 1
                    action = "unlock_tier"
                    events.append(("unlock_tier", {"tier": s.tiers[n_unlocked - 1].name, "completed_tier": tier.name,
                                                   "sigma1": pre.sigma1, "audit_sigma1_val": aud.max_valid}))
                else:
                    action = "complete"
                    completed = True
            rec = CycleRecord(
                cycle=cycle, tier=tier.name, n_columns=pre.n_columns, psi_dim=psi.dim, sigma1_pre=pre.sigma1,
                sigma2_pre=pre.sigma2, sigma_ratio=pre.ratio, sigma1_post=post.sigma1, sigma1_val_pre=val_pre.sigma1,
                sigma1_val_post=val_post.sigma1, action=action, fingerprint_fired=bool(fired), score=score,
                alignment=align, audit_sigma1=aud.max_probe,
                coeffs=[float(x) for x in c_new] if c_new is not None else [],
                events=events, seconds=time.perf_counter() - t0, audit_sigma1_val=aud.max_valid,
                audit_n_above=aud.n_above, n_extensions=n_ext, leading_share=share,
            )
            tracer.record_cycle(rec)
            records.append(rec)
            if completed:
                break
        unlocked_names = [t.name for t in s.tiers[:n_unlocked]]
        final = self.final_check(proj, seed, n_unlocked) if completed else None
        return LoopResult(arm, extension, seed, self.operators, records, completed, unlocked_names, len(s.tiers), psi,
                          final, s.coeff_max)


# ---------------------------------------------------------------------------------------------- read-outs
def collapse_factors(res: LoopResult) -> dict[str, float]:
    """sigma_1 collapse at the first extension (pre/post) and over all extensions (cycle-0 pre / last post).

    The same ratios on the validation probe set use the validation sigma_1 values of the same cycles.
    """
    ext = res.extensions
    nan = float("nan")
    if not ext:
        return {"first": nan, "overall": nan, "first_val": nan, "overall_val": nan, "n_extensions": 0}
    r0, f, last = res.records[0], ext[0], ext[-1]
    return {
        "first": f.sigma1_pre / f.sigma1_post,
        "overall": r0.sigma1_pre / last.sigma1_post,
        "first_val": f.sigma1_val_pre / f.sigma1_val_post,
        "overall_val": r0.sigma1_val_pre / last.sigma1_val_post,
        "n_extensions": res.n_extensions,
    }


def unlock_triggered_extension(res: LoopResult) -> bool | None:
    """Whether any psi-extension happened after the first tier unlock (None if no tier was unlocked)."""
    idx = [i for i, r in enumerate(res.records) if r.action == "unlock_tier"]
    if not idx:
        return None
    return any(r.n_extensions > 0 or r.action == "psi_extend" for r in res.records[idx[0] + 1 :])


def gates(main: LoopResult, randoms: Sequence[LoopResult]) -> dict[str, bool | float | None]:
    """The four gates. 'No slower than random' compares against the median over the random-arm seeds
    (a run that never completes counts as ``max_cycles + 1``)."""
    def cycles(r: LoopResult) -> float:
        c = r.cycles_to_completion
        return float(c) if c is not None else float(len(r.records) + 1)

    rand = [cycles(r) for r in randoms]
    med = float(np.median(rand)) if rand else float("nan")
    return {
        "extension_occurred": bool(main.extensions),
        "all_tiers_unlocked": len(main.unlocked) == main.n_tiers,
        "manifold_completed": bool(main.completed),
        "acquisition_no_slower_than_random": bool(main.completed and rand and cycles(main) <= med),
        "random_median_cycles": med,
    }


def control_checks(no_ext: LoopResult, random_dir: LoopResult, floor: float) -> dict[str, float | bool]:
    """Controls: without extension sigma_1 keeps growing; a random appended direction barely moves sigma_1."""
    s = np.array([r.sigma1_pre for r in no_ext.records])
    grows = bool(s.size >= 2 and np.all(np.diff(s) >= -1e-12 * s.max()) and s[-1] > s[0] and not no_ext.completed)
    ratios = np.array([r.sigma1_post / r.sigma1_pre for r in random_dir.extensions])
    return {
        "no_extension_sigma1_first": float(s[0]) if s.size else float("nan"),
        "no_extension_sigma1_last": float(s[-1]) if s.size else float("nan"),
        "no_extension_keeps_growing": grows,
        "no_extension_completed": bool(no_ext.completed),
        "random_direction_n_appended": int(ratios.size),
        "random_direction_min_post_over_pre": float(ratios.min()) if ratios.size else float("nan"),
        "random_direction_median_post_over_pre": float(np.median(ratios)) if ratios.size else float("nan"),
        "random_direction_barely_moves": bool(ratios.size > 0 and ratios.min() > 0.9),
        "floor": floor,
    }

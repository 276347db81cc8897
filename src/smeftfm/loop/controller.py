r"""The complete-then-expand controller: acquire, residualise, psi-extend, unlock the next tier, stop.

One cycle (``docs/aletheia.md`` has the precise definitions):

1. draw the candidate pool over the unlocked operators and acquire one working point with the chosen arm;
2. append its log-likelihood ratio to the history; R = (I - P_psi) [l_C1 ... l_Ck] on the probe events;
   record sigma_1 (pre), sigma_2 and the fingerprint sigma_1/sigma_2;
3. if sigma_1 > floor and (k >= 2 and sigma_1/sigma_2 > fingerprint): psi-extend with the dictionary function
   closest to the dominant left singular vector u_1, record sigma_1 (post) (on the probe and the validation set);
4. if sigma_1 (pre) <= floor for ``patience`` consecutive acquisitions, the active tier is complete: unlock the next
   tier, or end the loop after the last one.

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
from .acquisition import ARMS, candidate_pool, choose, residual_energy_scores
from .basis import FeatureDictionary, Psi
from .likelihood import LogLikelihoodRatio
from .residual import Spectrum, fit_direction, leading_singular_vectors, orthonormal_basis, residualise
from .tracing import NullTracer

Extension = Literal["exact", "dictionary", "none", "random"]


@dataclass(frozen=True)
class Tier:
    """A power-counting tier: its name and operators (SMEFTsim names)."""

    name: str
    operators: tuple[str, ...]


@dataclass(frozen=True)
class LoopSettings:
    """Fixed hyper-parameters of the loop (units: sigma in sqrt(sum_events l^2), coefficients at Lambda)."""

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

    def __post_init__(self) -> None:
        if not self.tiers or any(not t.operators for t in self.tiers):
            raise SmeftfmError("the loop needs at least one tier with at least one operator (loop.leading)")
        ops = self.operators
        if len(set(ops)) != len(ops):
            raise SmeftfmError(f"an operator appears in two tiers: {ops}; each operator belongs to one tier")
        if self.floor <= 0 or self.fingerprint <= 1 or self.patience < 1 or self.max_cycles < 1:
            raise SmeftfmError("need loop.floor > 0, loop.fingerprint > 1, loop.patience >= 1, loop.max_cycles >= 1")

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

    @property
    def cycles_to_completion(self) -> int | None:
        """Number of acquisitions until the last tier completed (None if it never did)."""
        return len(self.records) if self.completed else None

    @property
    def extensions(self) -> list[CycleRecord]:
        return [r for r in self.records if r.action == "psi_extend"]

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


class Loop:
    """Holds the precomputed probe/validation quantities and runs the controller for one arm."""

    def __init__(self, probe: LogLikelihoodRatio, valid: LogLikelihoodRatio, kmap: KinematicMap,
                 dictionary: FeatureDictionary, settings: LoopSettings, operators: Sequence[str]):
        self.probe, self.valid, self.kmap, self.dictionary, self.s = probe, valid, kmap, dictionary, settings
        self.operators = tuple(operators)
        if set(self.operators) != set(settings.operators):
            raise SmeftfmError(f"the oracle's operators {self.operators} differ from the tiers' {settings.operators}")
        if probe.n_operators != len(self.operators) or valid.n_operators != len(self.operators):
            raise SmeftfmError("probe terms were built for a different operator set; rebuild the probe sets")
        p, v = probe.probe, valid.probe
        self.d_probe = dictionary(p.m, p.y, p.cos)
        self.d_valid = dictionary(v.m, v.y, v.cos)
        self.tier_masks = [np.isin(self.operators, t.operators) for t in settings.tiers]

    def _bases(self, psi: Psi) -> tuple[np.ndarray, np.ndarray]:
        p, v = self.probe.probe, self.valid.probe
        q = orthonormal_basis(psi.evaluate(p.m, p.y, p.cos, self.d_probe, self.probe))
        qv = orthonormal_basis(psi.evaluate(v.m, v.y, v.cos, self.d_valid, self.valid))
        return q, qv

    def run(self, arm: str = "residual_energy", extension: Extension = "exact", seed: int | None = None,
            tracer=None, max_cycles: int | None = None) -> LoopResult:
        """Run the loop until the last tier completes or ``max_cycles`` acquisitions were made."""
        if arm not in ARMS:
            raise SmeftfmError(f"unknown acquisition arm '{arm}'; use one of {ARMS}")
        if extension not in ("exact", "dictionary", "none", "random"):
            raise SmeftfmError(f"unknown extension mode '{extension}'; use exact, dictionary, none or random")
        s = self.s
        seed = s.seed if seed is None else seed
        tracer = tracer or NullTracer()
        arm_rng = np.random.default_rng([seed, 7919, ARMS.index(arm)])
        ext_rng = np.random.default_rng([seed, 104729])
        c_max = np.full(len(self.operators), s.coeff_max)
        psi = Psi(s.psi_init_dim, self.kmap, self.dictionary)
        q, qv = self._bases(psi)
        n_unlocked, streak, completed = 1, 0, False
        hist_c: list[np.ndarray] = []
        l_hist = np.zeros((self.probe.probe.n, 0))
        lv_hist = np.zeros((self.valid.probe.n, 0))
        records: list[CycleRecord] = []
        for cycle in range(max_cycles or s.max_cycles):
            t0 = time.perf_counter()
            tier = s.tiers[n_unlocked - 1]
            unlocked = np.any(self.tier_masks[:n_unlocked], axis=0)
            pool = candidate_pool(np.random.default_rng([s.seed, cycle]), unlocked, c_max, s.n_candidates)
            l_cand = self.probe(pool)
            r_cand = residualise(q, l_cand)
            r_hist = residualise(q, l_hist)
            head = keys_cand = None
            if arm == "epig":
                keys_cand = _context_keys(l_cand, q)
                # ridge head over the acquired context rows (values: the EMA-free analogue, the rows themselves)
                keys_hist = _context_keys(l_hist, q) if hist_c else np.zeros((0, q.shape[1]))
                head = RidgeHead.fit(keys_hist, keys_hist, s.ridge)
            j, score = choose(arm, arm_rng, r_hist=r_hist, r_cand=r_cand, head=head, keys_cand=keys_cand)
            c_new = pool[j]
            hist_c.append(c_new)
            l_hist = np.concatenate([l_hist, l_cand[:, j : j + 1]], axis=1)
            lv_hist = np.concatenate([lv_hist, self.valid(c_new[None, :])], axis=1)
            r = residualise(q, l_hist)
            pre, val_pre = Spectrum.of(r), Spectrum.of(residualise(qv, lv_hist))
            fired = pre.sigma1 > s.floor and pre.n_columns >= 2 and pre.ratio > s.fingerprint
            post, val_post, fit_r2 = pre, val_pre, float("nan")
            events: list[tuple[str, dict]] = []
            action = "acquire"
            if fired and extension != "none":
                u1, v1 = leading_singular_vectors(r)
                label = f"cycle{cycle}"
                if extension == "exact":
                    psi = psi.extend_morphing(np.array(hist_c), v1, label)
                    g = l_hist @ v1
                else:
                    beta = (fit_direction(u1, self.d_probe, s.fit_ridge_rel) if extension == "dictionary"
                            else ext_rng.standard_normal(self.dictionary.size))
                    psi = psi.extend_dictionary(beta, label)
                    g = self.d_probe @ beta
                # how much of u_1 the appended function carries beyond the old span (1 = all of it)
                g_res = residualise(q, g)
                fit_r2 = float((u1 @ g_res) ** 2 / max(g_res @ g_res, 1e-300))
                q, qv = self._bases(psi)
                post = Spectrum.of(residualise(q, l_hist))
                val_post = Spectrum.of(residualise(qv, lv_hist))
                action = "psi_extend"
                events.append(("psi_extend", {
                    "psi_dim": psi.dim, "sigma1_pre": pre.sigma1, "sigma1_post": post.sigma1,
                    "collapse": pre.sigma1 / post.sigma1 if post.sigma1 > 0 else float("inf"),
                    "sigma1_val_post": val_post.sigma1, "alignment": fit_r2, "mode": extension,
                }))
            elif fired:
                action = "fingerprint"
            # completion audit (arm independent): could any candidate of this cycle's pool raise sigma_1 above
            # the floor under the current psi?  max_C sigma_1([R | r_C]) over the pool, closed form.
            if action == "psi_extend":
                r, r_cand = residualise(q, l_hist), residualise(q, l_cand)
            audit = float(np.sqrt(residual_energy_scores(r, r_cand).max()))
            streak = streak + 1 if audit <= s.floor else 0
            if streak >= s.patience:
                streak = 0
                if n_unlocked < len(s.tiers):
                    n_unlocked += 1
                    action = "unlock_tier"
                    events.append(("unlock_tier", {"tier": s.tiers[n_unlocked - 1].name, "completed_tier": tier.name,
                                                   "sigma1": pre.sigma1}))
                else:
                    action = "complete"
                    completed = True
            rec = CycleRecord(
                cycle=cycle, tier=tier.name, n_columns=pre.n_columns, psi_dim=psi.dim, sigma1_pre=pre.sigma1,
                sigma2_pre=pre.sigma2, sigma_ratio=pre.ratio, sigma1_post=post.sigma1, sigma1_val_pre=val_pre.sigma1,
                sigma1_val_post=val_post.sigma1, action=action, fingerprint_fired=bool(fired), score=score,
                alignment=fit_r2, audit_sigma1=audit, coeffs=[float(x) for x in c_new], events=events,
                seconds=time.perf_counter() - t0,
            )
            tracer.record_cycle(rec)
            records.append(rec)
            if completed:
                break
        unlocked_names = [t.name for t in s.tiers[:n_unlocked]]
        return LoopResult(arm, extension, seed, self.operators, records, completed, unlocked_names, len(s.tiers), psi)


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
        "n_extensions": len(ext),
    }


def unlock_triggered_extension(res: LoopResult) -> bool | None:
    """Whether any psi-extension happened after the first tier unlock (None if no tier was unlocked)."""
    idx = [i for i, r in enumerate(res.records) if r.action == "unlock_tier"]
    if not idx:
        return None
    return any(r.action == "psi_extend" for r in res.records[idx[0] + 1 :])


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

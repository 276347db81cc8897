"""Confidence intervals on Wilson coefficients: grid profiles, iminuit MIGRAD/MINOS, and 2-D contours.

Conventions: chi2 thresholds from the chi-square distribution (Delta chi2 = 3.84 for a 95 % CL interval on one
parameter, 5.99 for a 2-D contour); intervals are reported as [lo, hi], the outermost crossings of the threshold
(for O(Lambda^-4) fits the allowed region can be two disjoint pieces; the hull is reported and ``pieces`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import SmeftfmError
from ..physics.morphing import Order
from .likelihood import Likelihood, embed, linear_fisher

__all__ = [
    "Interval", "contour_grid", "crossings", "delta_chi2", "fit_minuit", "minos_intervals", "profile_scan",
    "scan_single"
]


def delta_chi2(cl: float, dof: int = 1) -> float:
    """Delta chi2 of a ``cl`` confidence region for ``dof`` parameters (3.841 for 95 % and one parameter)."""
    return float(stats.chi2.ppf(cl, dof))


@dataclass
class Interval:
    lo: float | None
    hi: float | None
    best: float
    chi2_min: float
    pieces: int = 1

    def as_list(self) -> list[float | None]:
        return [self.lo, self.hi]


def crossings(grid: np.ndarray, chi2: np.ndarray, threshold: float) -> tuple[float | None, float | None, int]:
    """Outermost points where chi2 crosses ``threshold`` (linear interpolation) and the number of allowed pieces.

    Returns None for a bound when the allowed region reaches the grid's edge (interval not closed on the grid).
    """
    ok = chi2 <= threshold
    if not ok.any():
        raise SmeftfmError("no grid point is inside the interval; the grid misses the minimum")
    idx = np.flatnonzero(ok)
    pieces = 1 + int(np.sum(np.diff(idx) > 1))
    i0, i1 = idx[0], idx[-1]

    def interp(a: int, b: int) -> float:
        x0, x1, y0, y1 = grid[a], grid[b], chi2[a], chi2[b]
        return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))

    lo = None if i0 == 0 else interp(i0 - 1, i0)
    hi = None if i1 == grid.size - 1 else interp(i1, i1 + 1)
    return lo, hi, pieces


def scan_single(lik: Likelihood, op: str, order: Order, cl: float = 0.95, n_grid: int = 4001,
                max_widen: int = 6) -> Interval:
    """Single-operator interval (all other coefficients 0) from a dense grid; widens the grid until it closes."""
    sigma = 1.0 / np.sqrt(max(linear_fisher(lik, [op])[0, 0], 1e-300))
    half = 8.0 * sigma
    thr = None
    for _ in range(max_widen):
        grid = np.linspace(-half, half, n_grid)
        chi2 = lik.chi2(embed(lik.operators, [op], grid[:, None]), order)
        best, cmin = _refine_min(lik, op, order, grid, chi2)
        thr = cmin + delta_chi2(cl)
        lo, hi, pieces = crossings(grid, chi2, thr)
        if lo is not None and hi is not None:
            # refine the edges on a finer local grid
            lo = _refine(lik, op, order, lo, grid[1] - grid[0], thr)
            hi = _refine(lik, op, order, hi, grid[1] - grid[0], thr)
            return Interval(lo, hi, best, cmin, pieces)
        half *= 4.0
    return Interval(lo, hi, best, cmin, pieces)


def _refine_min(lik: Likelihood, op: str, order: Order, grid: np.ndarray, chi2: np.ndarray) -> tuple[float, float]:
    """Best fit and chi2 minimum refined by a bounded 1-D minimisation around the grid's minimum."""
    from scipy.optimize import minimize_scalar

    i = int(np.argmin(chi2))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]

    def f(x: float) -> float:
        return float(lik.chi2(embed(lik.operators, [op], np.array([x])), order))

    r = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-10 * max(1.0, abs(b - a))})
    if r.fun <= chi2[i]:
        return float(r.x), float(r.fun)
    return float(grid[i]), float(chi2[i])


def _refine(lik: Likelihood, op: str, order: Order, x: float, step: float, thr: float) -> float:
    g = np.linspace(x - step, x + step, 201)
    c = lik.chi2(embed(lik.operators, [op], g[:, None]), order) - thr
    s = np.flatnonzero(np.diff(np.sign(c)) != 0)
    if s.size == 0:
        return x
    i = s[0]
    return float(g[i] - c[i] * (g[i + 1] - g[i]) / (c[i + 1] - c[i]))


def _minuit(lik: Likelihood, ops: list[str], order: Order, start: np.ndarray | None = None):
    from iminuit import Minuit

    def f(*c):
        return float(lik.chi2(embed(lik.operators, ops, np.asarray(c)), order))

    fisher = linear_fisher(lik, ops)
    err = 1.0 / np.sqrt(np.clip(np.diag(fisher), 1e-300, None))
    x0 = np.zeros(len(ops)) if start is None else np.asarray(start, dtype=float)
    m = Minuit(f, *x0, name=list(ops))
    m.errordef = Minuit.LEAST_SQUARES
    for o, e in zip(ops, err):
        m.errors[o] = min(e, 10.0)
    m.strategy = 2
    m.tol = 1e-4  # edm goal 2e-7: exact minima for Asimov and analytic checks
    return m


def fit_minuit(lik: Likelihood, ops: list[str], order: Order, start=None):
    """MIGRAD over ``ops`` (others fixed at 0): returns the Minuit object after the minimisation.

    The O(Lambda^-4) chi2 can have several minima: it is minimised from the linear fit's minimum, from 0, from the
    given start and from sign flips of the linear minimum, and the lowest valid minimum is kept.
    """
    if order == "linear":
        m = _minuit(lik, ops, order, start)
        m.migrad()
        return m
    lin = np.array(fit_minuit(lik, ops, "linear", start).values)
    starts = [lin, np.zeros(len(ops)), -lin] + ([np.asarray(start, float)] if start is not None else [])
    starts += [lin * np.where(np.arange(len(ops)) == k, -1.0, 1.0) for k in range(len(ops))]
    best = None
    for s0 in starts:
        m = _minuit(lik, ops, order, s0)
        m.migrad()
        if best is None or (m.valid and (not best.valid or m.fval < best.fval - 1e-9)):
            best = m
    return best


def minos_intervals(lik: Likelihood, ops: list[str], order: Order, cl: float = 0.95) -> dict[str, Interval]:
    """Profiled intervals (others minimised) from MINOS at confidence level ``cl``; grid profile when MINOS fails."""
    m = fit_minuit(lik, ops, order)
    out = {}
    try:
        m.minos(cl=cl)
        for o in ops:
            me = m.merrors[o]
            if me.is_valid:
                out[o] = Interval(float(m.values[o] + me.lower), float(m.values[o] + me.upper), float(m.values[o]),
                                  float(m.fval))
    except RuntimeError:
        pass
    for o in ops:
        if o not in out:
            out[o] = profile_scan(lik, ops, o, order, cl, m)
    return out


def profile_scan(lik: Likelihood, ops: list[str], target: str, order: Order, cl: float = 0.95, m=None,
                 n_grid: int = 81) -> Interval:
    """Profile of ``target`` on a grid, minimising the other ``ops`` at every point with MIGRAD."""
    from iminuit import Minuit

    if m is None:
        m = fit_minuit(lik, ops, order)
    others = [o for o in ops if o != target]
    best = float(m.values[target])
    cmin = float(m.fval)
    sig = float(m.errors[target]) if m.errors[target] > 0 else 1.0
    half = 6.0 * sig
    for _ in range(5):
        grid = np.linspace(best - half, best + half, n_grid)
        prof = np.empty(n_grid)
        start = np.array([m.values[o] for o in others])
        for i, g in enumerate(grid):
            if not others:
                prof[i] = float(lik.chi2(embed(lik.operators, [target], np.array([g])), order))
                continue

            def f(*c, g=g):
                vals = np.concatenate([[g], np.asarray(c)])
                return float(lik.chi2(embed(lik.operators, [target] + others, vals), order))

            mm = Minuit(f, *start, name=others)
            mm.errordef = Minuit.LEAST_SQUARES
            for o in others:
                mm.errors[o] = max(float(m.errors[o]), 1e-6)
            mm.migrad()
            prof[i] = mm.fval
        cmin = min(cmin, float(prof.min()))
        lo, hi, pieces = crossings(grid, prof, cmin + delta_chi2(cl))
        if lo is not None and hi is not None:
            return Interval(lo, hi, float(grid[int(np.argmin(prof))]), cmin, pieces)
        half *= 3.0
    return Interval(lo, hi, float(grid[int(np.argmin(prof))]), cmin, pieces)


def contour_grid(lik: Likelihood, pair: tuple[str, str], order: Order, n: int = 121, span: float = 5.0,
                 center=None, scale=None):
    """chi2 - chi2_min on an n x n grid of a pair (other coefficients 0), for 2-D contours (5.99 = 95 % CL).

    The grid spans +-``span`` linear-model standard deviations around the best fit (or ``center``, ``scale``).
    """
    fisher = linear_fisher(lik, list(pair))
    cov = np.linalg.pinv(fisher)
    sig = np.sqrt(np.clip(np.diag(cov), 1e-300, None)) if scale is None else np.asarray(scale)
    c0 = np.zeros(2) if center is None else np.asarray(center)
    gx = np.linspace(c0[0] - span * sig[0], c0[0] + span * sig[0], n)
    gy = np.linspace(c0[1] - span * sig[1], c0[1] + span * sig[1], n)
    xx, yy = np.meshgrid(gx, gy, indexing="ij")
    chi2 = lik.chi2(embed(lik.operators, list(pair), np.stack([xx, yy], -1)), order)
    return gx, gy, chi2 - chi2.min()

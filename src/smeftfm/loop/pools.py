r"""Candidate working points per tier (Wilson coefficients at Lambda; operators outside the tier are 0).

* ``box``: ``n`` points uniform in ``|C_k| <= c_max`` over the tier's operators, redrawn every cycle from
  ``(seed, cycle, tier index)``; all arms of one seed see the same pools.
* ``grid`` (the authors' setting): a fixed positive pool per tier: each operator alone at 0.3, 0.5, 0.7 and the
  equal-valued pairs (a, a) for a in {0.3, 0.5, 0.7}; with two operators per tier that is 9 points. For a tier of
  k operators the mixes are all pairs at equal value (k(k-1)/2 x 3 points).

A clean tier read-out uses only the newest unlocked tier's candidates for acquisition after an unlock
(``candidates_after_unlock='new_tier'``); the completion audit always covers every unlocked tier.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ..errors import SmeftfmError

__all__ = ["GRID_VALUES", "box_pool", "grid_pool", "tier_pool", "tier_shares"]

GRID_VALUES = (0.3, 0.5, 0.7)


def box_pool(rng: np.random.Generator, mask: np.ndarray, c_max: float, n: int) -> np.ndarray:
    """``n`` points [n, K] uniform in ``[-c_max, c_max]`` on the operators in ``mask`` (0 elsewhere)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise SmeftfmError("no operator to draw candidate working points for")
    c = rng.uniform(-c_max, c_max, size=(n, mask.size))
    c[:, ~mask] = 0.0
    return c


def grid_pool(mask: np.ndarray, values: tuple[float, ...] = GRID_VALUES) -> np.ndarray:
    """The authors' fixed positive pool for the operators in ``mask``: singles and equal-valued pairs."""
    mask = np.asarray(mask, dtype=bool)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        raise SmeftfmError("no operator to build the candidate grid for")
    rows = []
    for k in idx:
        for v in values:
            c = np.zeros(mask.size)
            c[k] = v
            rows.append(c)
    for a, b in combinations(idx, 2):
        for v in values:
            c = np.zeros(mask.size)
            c[[a, b]] = v
            rows.append(c)
    return np.array(rows)


def tier_pool(kind: str, seed: int, cycle: int, tier_index: int, mask: np.ndarray, c_max: float,
              n: int) -> np.ndarray:
    """The candidate pool of one tier in one cycle (``kind`` = 'box' or 'grid')."""
    if kind == "box":
        return box_pool(np.random.default_rng([seed, cycle, tier_index]), mask, c_max, n)
    if kind == "grid":
        return grid_pool(mask)
    raise SmeftfmError(f"unknown candidate pool '{kind}'; use box or grid")


def tier_shares(coeffs: np.ndarray, weights: np.ndarray, masks: list[np.ndarray]) -> np.ndarray:
    """Share of a psi-extension direction carried by each tier.

    The direction combines the acquired working points ``coeffs [k, K]`` with weights ``v_1 [k]`` (unit norm);
    working point j contributes ``v_1j^2`` split over the tiers by its squared coefficients. Returns ``[n_tiers]``
    summing to 1 (e.g. leading / vertex composition of the direction).
    """
    c = np.atleast_2d(np.asarray(coeffs, dtype=np.float64))
    w2 = np.asarray(weights, dtype=np.float64) ** 2
    tot = (c**2).sum(axis=1)
    tot[tot == 0] = 1.0
    per = np.stack([(c[:, m] ** 2).sum(axis=1) / tot for m in masks], axis=1)  # [k, tiers]
    s = w2 @ per
    return s / s.sum() if s.sum() > 0 else s

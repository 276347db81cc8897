r"""Acquisition arms: which working point (Wilson-coefficient vector) to acquire next, in theory space.

Every cycle draws a pool of candidate working points uniformly in the box |C_k| <= c_max over the operators
of the unlocked tiers (locked operators stay 0) and scores them in closed form:

* ``residual_energy``: ``sigma_1([R | r_C])^2``, the leading singular value squared of the residual operator after
  appending the candidate's residual column. It is >= ``sigma_1(R)^2 + (u_1 . r_C)^2``, i.e. it rewards the
  out-of-span energy aligned with the current leading residual direction u_1 (and any new direction the candidate
  opens up); with no column acquired yet it is ``|r_C|^2``.
* ``epig``: expected predictive information gain of the closed-form ridge head over the working points' context rows
  (:class:`~smeftfm.models.ridge.RidgeHead.epig`), targeting the candidate pool itself.
* ``random``: a uniformly random candidate.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import SmeftfmError
from ..models.ridge import RidgeHead

__all__ = ["ARMS", "candidate_pool", "choose", "epig_scores", "residual_energy_scores"]

Arm = Literal["residual_energy", "epig", "random"]
ARMS: tuple[str, ...] = ("residual_energy", "epig", "random")


def candidate_pool(rng: np.random.Generator, unlocked: np.ndarray, c_max: np.ndarray, n: int) -> np.ndarray:
    """``n`` working points [n, K]: uniform in [-c_max_k, c_max_k] for unlocked operators, 0 for locked ones."""
    unlocked = np.asarray(unlocked, dtype=bool)
    if not unlocked.any():
        raise SmeftfmError("no unlocked operator to acquire working points for")
    c = rng.uniform(-1.0, 1.0, size=(n, unlocked.size)) * np.asarray(c_max, dtype=np.float64)
    c[:, ~unlocked] = 0.0
    return c


def residual_energy_scores(r_hist: np.ndarray, r_cand: np.ndarray) -> np.ndarray:
    """``sigma_1([R | r_j])^2`` for every candidate column ``r_j`` of ``r_cand [N, M]`` (batched, via Gram matrices)."""
    k = r_hist.shape[1]
    diag = np.einsum("nm,nm->m", r_cand, r_cand)
    if k == 0:
        return diag
    m = r_cand.shape[1]
    g = np.empty((m, k + 1, k + 1))
    g[:, :k, :k] = r_hist.T @ r_hist
    cross = (r_hist.T @ r_cand).T  # [M, k]
    g[:, :k, k] = cross
    g[:, k, :k] = cross
    g[:, k, k] = diag
    return np.linalg.eigvalsh(g)[:, -1]


def epig_scores(head: RidgeHead, keys_cand: np.ndarray) -> np.ndarray:
    """EPIG of each candidate's context row about the whole candidate pool (the target distribution)."""
    return head.epig(keys_cand, keys_cand)


def choose(arm: str, rng: np.random.Generator, *, r_hist: np.ndarray, r_cand: np.ndarray,
           head: RidgeHead | None = None, keys_cand: np.ndarray | None = None) -> tuple[int, float]:
    """Index of the chosen candidate and its score (NaN for ``random``)."""
    if arm == "residual_energy":
        s = residual_energy_scores(r_hist, r_cand)
    elif arm == "epig":
        if head is None or keys_cand is None:
            raise SmeftfmError("the epig arm needs the ridge head and the candidates' context rows")
        s = epig_scores(head, keys_cand)
    elif arm == "random":
        return int(rng.integers(r_cand.shape[1])), float("nan")
    else:
        raise SmeftfmError(f"unknown acquisition arm '{arm}'; use one of {ARMS}")
    j = int(np.argmax(s))
    return j, float(s[j])

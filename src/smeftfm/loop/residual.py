r"""Projector onto span(psi), residual columns, the residual operator R and its singular values.

On N probe events, psi is the matrix ``F [N, d]`` and ``P = Q Q^T`` the orthogonal projector onto its column span
(``Q`` an orthonormal basis of it). A working point C contributes the raw, unnormalised residual column
``r_C = (I - P) l_C`` (``l_C`` the per-event log-likelihood ratio on the probe events); R stacks these columns.
Its singular values sigma_1 >= sigma_2 >= ... are in units of sqrt(sum over events of l^2): sigma_1 grows like
sqrt(N) times a typical per-event residual (see ``docs/aletheia.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError

__all__ = ["RANK_RTOL", "Spectrum", "fit_direction", "fit_gram", "fit_weighted", "leading_singular_vectors",
           "orthonormal_basis", "residualise", "singular_values"]

RANK_RTOL = 1e-10


def orthonormal_basis(features: np.ndarray, rtol: float = RANK_RTOL) -> np.ndarray:
    """Orthonormal basis ``Q [N, r]`` of the span of ``features [N, d]`` (dependent columns dropped)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < f.shape[1]:
        raise SmeftfmError(f"psi has shape {f.shape}: need more probe events than features (loop.n_probe)")
    if not np.all(np.isfinite(f)):
        raise SmeftfmError("psi has non-finite values on the probe events; check the probe kinematics")
    scale = np.linalg.norm(f, axis=0)
    scale[scale == 0] = 1.0
    u, s, _ = np.linalg.svd(f / scale, full_matrices=False)
    keep = s > rtol * s[0]
    return u[:, keep]


def residualise(q: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``(I - Q Q^T) L`` for ``L [N, k]`` (or ``[N]``)."""
    return columns - q @ (q.T @ columns)


def singular_values(r: np.ndarray) -> np.ndarray:
    """Singular values of ``R [N, k]`` in descending order (empty for k = 0)."""
    if r.ndim != 2 or r.shape[1] == 0:
        return np.zeros(0)
    return np.linalg.svd(r, compute_uv=False)


@dataclass(frozen=True)
class Spectrum:
    """sigma_1, sigma_2 and the fingerprint sigma_1/sigma_2 of a residual operator (sigma_2 = 0 with one column)."""

    sigma1: float
    sigma2: float
    n_columns: int

    @property
    def ratio(self) -> float:
        """sigma_1 / sigma_2; ``inf`` when sigma_2 = 0 (one column, or an exactly rank-one R)."""
        return float("inf") if self.sigma2 == 0 else self.sigma1 / self.sigma2

    @classmethod
    def of(cls, r: np.ndarray) -> Spectrum:
        s = singular_values(r)
        return cls(float(s[0]) if s.size else 0.0, float(s[1]) if s.size > 1 else 0.0, int(r.shape[1]))


def leading_singular_vectors(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dominant residual direction ``u_1`` (unit vector over probe events) and ``v_1`` (over working points).

    ``R v_1 = sigma_1 u_1``; the sign is fixed so that the largest component of ``u_1`` is positive.
    """
    if r.ndim != 2 or r.shape[1] == 0:
        raise SmeftfmError("the residual operator has no columns yet; acquire a working point first")
    u, _, vt = np.linalg.svd(r, full_matrices=False)
    u1, v1 = u[:, 0], vt[0]
    if u1[np.argmax(np.abs(u1))] < 0:
        u1, v1 = -u1, -v1
    return u1, v1


def fit_direction(target: np.ndarray, dictionary_values: np.ndarray, ridge_rel: float = 1e-8) -> np.ndarray:
    """Weights ``beta`` of the dictionary function closest to ``target`` on the probe events (ridge least squares).

    Solves ``min |D beta - t|^2 + alpha |beta|^2`` with ``alpha = ridge_rel * tr(D^T D) / p`` (a relative
    regulariser that only removes numerically degenerate dictionary combinations).
    """
    d = np.asarray(dictionary_values, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if d.shape[0] != t.shape[0]:
        raise SmeftfmError(f"dictionary rows {d.shape[0]} != target length {t.shape[0]}")
    g = d.T @ d
    alpha = ridge_rel * np.trace(g) / g.shape[0]
    return np.linalg.solve(g + alpha * np.eye(g.shape[0]), d.T @ t)


def fit_gram(dictionary_values: np.ndarray, weights: np.ndarray, ridge_rel: float = 1e-8) -> np.ndarray:
    """``D^T W D + alpha I`` of a weighted ridge fit (``alpha = ridge_rel tr(D^T W D)/p``); reusable per fit set."""
    d = np.asarray(dictionary_values, dtype=np.float64)
    g = (d * np.asarray(weights, dtype=np.float64)[:, None]).T @ d
    return g + ridge_rel * np.trace(g) / g.shape[0] * np.eye(g.shape[0])


def fit_weighted(target: np.ndarray, dictionary_values: np.ndarray, weights: np.ndarray,
                 ridge_rel: float = 1e-8, gram: np.ndarray | None = None) -> np.ndarray:
    """Weighted ridge least squares ``min sum_i w_i (D_i beta - t_i)^2 + alpha |beta|^2`` (``alpha`` relative).

    Used by the kinematic extension: ``t`` is the residual direction's log-likelihood-ratio combination evaluated
    on an independent (mass-tilted, importance-weighted) fit event set, so the fitted function estimates the
    SM-population best kinematic approximation rather than interpolating the probe events. ``gram`` may pass a
    precomputed :func:`fit_gram` of the same set.
    """
    d = np.asarray(dictionary_values, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if not (d.shape[0] == t.shape[0] == w.shape[0]):
        raise SmeftfmError(f"fit set sizes disagree: dictionary {d.shape[0]}, target {t.shape[0]}, weights {w.shape}")
    g = fit_gram(d, w, ridge_rel) if gram is None else gram
    return np.linalg.solve(g, d.T @ (w * t))

"""Nearest-neighbour retrieval around the SM in the latent plane, and the exact chi^2 truth.

Contour construction: the SM replicas' embeddings define a centre ``mu`` (their mean) and a covariance
``S`` (their sample covariance). The ``k sigma`` region is the Mahalanobis ellipse
``(z - mu)^T S^-1 (z - mu) <= r_k^2`` holding the same probability as a two-sided ``k sigma`` interval of a
1-D Gaussian, i.e. ``r_k^2 = chi2_d.ppf(erf(k / sqrt 2))`` with ``d`` the latent dimension (2.30, 11.8 and
40.1 for 1, 3, 6 sigma in 2-D). A universe is *retrieved* at level k when its embedding (mean over its test
replicas) lies inside.

Truth: the exact chi^2 of a universe's theory spectrum against the SM,
``chi^2 = (y_u - y_SM)^T Sigma_SM^-1 (y_u - y_SM)``, with ``Sigma_SM`` the full 92 x 92 covariance of the SM
replicas; the universe is SM-compatible at level k when ``chi^2 <= chi2_nu.ppf(erf(k / sqrt 2))`` with ``nu``
the number of eigen-directions kept. The RBF-correlated covariance is numerically near-singular, so the
inverse is taken on the eigen-directions with eigenvalue above ``rcond`` times the largest one.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ..errors import SmeftfmError

__all__ = ["LatentContours", "chi2_threshold", "coefficient_ranges", "exact_chi2", "null_ranges", "precision_recall",
           "sigma_probability"]


def sigma_probability(k: float) -> float:
    """Probability inside a two-sided ``k sigma`` interval of a 1-D Gaussian."""
    return float(special.erf(k / np.sqrt(2.0)))


def chi2_threshold(k: float, dof: int) -> float:
    """``chi^2`` quantile with ``dof`` degrees of freedom at the ``k sigma`` probability (accurate at large k)."""
    return float(stats.chi2.isf(special.erfc(k / np.sqrt(2.0)), dof))


class LatentContours:
    """Mahalanobis ellipses of the SM replica cloud in the latent plane."""

    def __init__(self, z_sm: np.ndarray):
        z_sm = np.asarray(z_sm, dtype=np.float64)
        if z_sm.ndim != 2 or len(z_sm) <= z_sm.shape[1]:
            raise SmeftfmError("contours need more SM replica embeddings than latent dimensions")
        self.center = z_sm.mean(0)
        self.cov = np.atleast_2d(np.cov(z_sm, rowvar=False))
        if not np.all(np.linalg.eigvalsh(self.cov) > 0):
            raise SmeftfmError("the SM replica embeddings are degenerate (singular latent covariance)")
        self.prec = np.linalg.inv(self.cov)
        self.dim = z_sm.shape[1]

    def mahalanobis2(self, z: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(np.asarray(z, dtype=np.float64)) - self.center
        return np.einsum("ni,ij,nj->n", d, self.prec, d)

    def radius2(self, k: float) -> float:
        return chi2_threshold(k, self.dim)

    def inside(self, z: np.ndarray, k: float) -> np.ndarray:
        """Boolean mask of points inside the ``k sigma`` contour."""
        return self.mahalanobis2(z) <= self.radius2(k)

    def ellipse(self, k: float, n: int = 200) -> np.ndarray:
        """``[n, 2]`` points on the ``k sigma`` contour (first two latent dimensions), for plots."""
        w, v = np.linalg.eigh(self.cov[:2, :2])
        t = np.linspace(0, 2 * np.pi, n)
        circ = np.stack([np.cos(t), np.sin(t)], 1) * np.sqrt(self.radius2(k) * w)
        return self.center[:2] + circ @ v.T


def exact_chi2(y: np.ndarray, y_sm: np.ndarray, cov: np.ndarray, rcond: float = 1e-10) -> tuple[np.ndarray, int]:
    """``chi^2`` of each spectrum ``y [n, B]`` against ``y_sm [B]`` with covariance ``cov [B, B]`` (pb^2/GeV^2).

    Returns (chi^2 per spectrum, number of eigen-directions kept).
    """
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (y_sm.shape[0],) * 2 or not np.allclose(cov, cov.T, rtol=1e-8, atol=0):
        raise SmeftfmError("covariance must be a symmetric [B, B] matrix matching the spectra")
    w, v = np.linalg.eigh(cov)
    keep = w > rcond * w.max()
    d = (np.atleast_2d(y) - y_sm) @ v[:, keep]
    return (d ** 2 / w[keep]).sum(1), int(keep.sum())


def precision_recall(retrieved: np.ndarray, truth: np.ndarray) -> dict[str, float | int | None]:
    """Precision and recall of a boolean retrieval against boolean truth (None when undefined)."""
    retrieved, truth = np.asarray(retrieved, bool), np.asarray(truth, bool)
    tp = int(np.sum(retrieved & truth))
    n_ret, n_true = int(retrieved.sum()), int(truth.sum())
    return {"n_retrieved": n_ret, "n_true": n_true, "true_positives": tp,
            "precision": tp / n_ret if n_ret else None, "recall": tp / n_true if n_true else None}


def coefficient_ranges(coeffs: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Captured Wilson-coefficient ranges (Figs. 11-12): min, max, range, and range / full range per operator."""
    coeffs = np.asarray(coeffs, dtype=np.float64)
    full = coeffs.max(0) - coeffs.min(0)
    if not np.any(mask):
        nan = np.full(coeffs.shape[1], np.nan)
        return {"lo": nan, "hi": nan, "range": nan, "ratio": nan}
    sel = coeffs[np.asarray(mask, bool)]
    lo, hi = sel.min(0), sel.max(0)
    ratio = np.where(full > 0, (hi - lo) / np.where(full > 0, full, 1.0), 0.0)
    return {"lo": lo, "hi": hi, "range": hi - lo, "ratio": ratio}


def null_ranges(coeffs: np.ndarray, n_pick: int, n_draws: int, rng: np.random.Generator,
                quantiles: tuple[float, float] = (0.05, 0.95)) -> tuple[np.ndarray, np.ndarray]:
    """The null of Figs. 11-12: range / full range captured by ``n_pick`` universes drawn at random (no encoder),
    per operator, as the (5 %, 95 %) quantiles over ``n_draws`` subsets. Zero-width (all-zero) operators give 0."""
    coeffs = np.asarray(coeffs, dtype=np.float64)
    n, p = coeffs.shape
    if n_pick <= 0:
        return np.zeros(p), np.zeros(p)
    full = coeffs.max(0) - coeffs.min(0)
    idx = np.argsort(rng.random((n_draws, n)), axis=1)[:, :min(n_pick, n)]  # draws without replacement
    sel = coeffs[idx]  # [draws, n_pick, p]
    ratio = np.where(full > 0, (sel.max(1) - sel.min(1)) / np.where(full > 0, full, 1.0), 0.0)
    lo, hi = np.quantile(ratio, quantiles, axis=0)
    return lo, hi

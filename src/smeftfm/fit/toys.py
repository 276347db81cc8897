"""Pseudo-experiments: Gaussian toys around a prediction, and the frequentist coverage of the chi2 intervals."""

from __future__ import annotations

import numpy as np

from ..physics.morphing import Order
from .intervals import delta_chi2
from .likelihood import DatasetLikelihood, embed

__all__ = ["gaussian_toys", "interval_coverage"]


def gaussian_toys(mean: np.ndarray, cov: np.ndarray, n_toys: int, seed: int = 0) -> np.ndarray:
    """[n_toys, n] draws from N(mean, cov) (pb/GeV)."""
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(mean, cov, size=n_toys, method="cholesky")


def interval_coverage(part: DatasetLikelihood, op: str, c_true: float, order: Order, n_toys: int = 400,
                      cl: float = 0.6827, n_grid: int = 2001, half_width: float | None = None,
                      seed: int = 0) -> tuple[float, np.ndarray]:
    """Fraction of toys whose Delta chi2 interval (one operator, normalisation profiled) contains ``c_true``.

    Toys are drawn around N0 * p(c_true) with the likelihood's total covariance; all toys are profiled at once on a
    grid of ``n_grid`` points (vectorised, [toys, grid]). Returns (coverage, per-toy best fits).
    """
    ops = part.operators
    truth = embed(ops, [op], np.array([c_true]))
    mean = part.norm0 * part.predict(truth, order)
    toys = gaussian_toys(mean, part.cov_total, n_toys, seed)
    if half_width is None:
        from .likelihood import Likelihood, linear_fisher

        sig = 1.0 / np.sqrt(linear_fisher(Likelihood([part]), [op])[0, 0])
        half_width = 8.0 * sig
    grid = c_true + np.linspace(-half_width, half_width, n_grid)
    p = part.predict(embed(ops, [op], grid[:, None]), order)  # [G, n]
    chi2 = part.chi2_of_prediction(p, toys[:, None, :])  # [T, G]
    at_truth = part.chi2_of_prediction(part.predict(truth, order), toys)  # [T]
    inside = at_truth - chi2.min(1) <= delta_chi2(cl)
    return float(inside.mean()), grid[np.argmin(chi2, 1)]

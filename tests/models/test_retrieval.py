import numpy as np
import pytest

from smeftfm.models.retrieval import (
    LatentContours,
    chi2_threshold,
    coefficient_ranges,
    exact_chi2,
    precision_recall,
)


def _exact_cloud(n, mean, a, rng):
    """n points whose sample mean is ``mean`` and sample covariance exactly ``a a^T``."""
    x = rng.standard_normal((n, 2))
    x -= x.mean(0)
    l = np.linalg.cholesky(np.cov(x, rowvar=False))
    w = x @ np.linalg.inv(l).T  # sample covariance exactly I
    return mean + w @ a.T


def test_threshold_matches_two_dof_closed_form():
    # chi2 with 2 dof: P(X <= x) = 1 - exp(-x/2)  =>  x = -2 ln(1 - p)
    from scipy.special import erf

    for k in (1.0, 3.0):
        p = erf(k / np.sqrt(2))
        assert chi2_threshold(k, 2) == pytest.approx(-2 * np.log1p(-p), rel=1e-10)
    assert chi2_threshold(6.0, 2) == pytest.approx(40.10, abs=0.02)  # -2 ln(1.97e-9)


def test_retrieval_returns_exactly_the_universes_inside():
    rng = np.random.default_rng(3)
    mean = np.array([0.5, -1.0])
    a = np.array([[2.0, 0.0], [1.0, 0.5]])
    cont = LatentContours(_exact_cloud(500, mean, a, rng))
    r2 = {k: chi2_threshold(k, 2) for k in (1, 3, 6)}
    # universes at chosen Mahalanobis radii^2 along random directions (u = unit vector * radius)
    radii2 = np.array([0.5, 2.0, 2.6, 11.0, 12.5, 39.0, 41.0, 200.0])
    ang = rng.uniform(0, 2 * np.pi, len(radii2))
    u = np.stack([np.cos(ang), np.sin(ang)], 1) * np.sqrt(radii2)[:, None]
    z_u = mean + u @ a.T
    np.testing.assert_allclose(cont.mahalanobis2(z_u), radii2, rtol=1e-9)
    assert np.flatnonzero(cont.inside(z_u, 1)).tolist() == [0, 1]
    assert np.flatnonzero(cont.inside(z_u, 3)).tolist() == [0, 1, 2, 3]
    assert np.flatnonzero(cont.inside(z_u, 6)).tolist() == [0, 1, 2, 3, 4, 5]
    assert r2[1] < 2.6 < r2[3]
    ell = cont.ellipse(3, 50)
    np.testing.assert_allclose(cont.mahalanobis2(ell), r2[3], rtol=1e-9)


def test_exact_chi2_diagonal_and_pseudo_inverse():
    y_sm = np.array([10.0, 5.0, 1.0])
    cov = np.diag([4.0, 1.0, 0.25])
    y = np.array([[12.0, 5.0, 1.0], [10.0, 6.0, 0.5]])
    chi2, dof = exact_chi2(y, y_sm, cov)
    np.testing.assert_allclose(chi2, [1.0, 1.0 + 1.0])
    assert dof == 3
    # a direction with zero variance is dropped
    chi2, dof = exact_chi2(y, y_sm, np.diag([4.0, 1.0, 0.0]))
    np.testing.assert_allclose(chi2, [1.0, 1.0])
    assert dof == 2


def test_precision_recall_and_ranges():
    pr = precision_recall(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 1], bool))
    assert pr == {"n_retrieved": 3, "n_true": 3, "true_positives": 2, "precision": 2 / 3, "recall": 2 / 3}
    assert precision_recall(np.zeros(3, bool), np.zeros(3, bool))["precision"] is None
    c = np.array([[0.0, 1.0], [1.0, -1.0], [2.0, 0.0], [4.0, 1.0]])
    r = coefficient_ranges(c, np.array([1, 1, 0, 0], bool))
    np.testing.assert_allclose(r["range"], [1.0, 2.0])
    np.testing.assert_allclose(r["ratio"], [0.25, 1.0])

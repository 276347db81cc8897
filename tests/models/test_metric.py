"""The recommended encoder (models/metric.py): identity start = the GoF statistic, supervised head, 2-D view."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.models.metric import MetricConfig, train_metric
from smeftfm.models.references import CountLikelihood, GofWhitening
from smeftfm.models.retrieval import chi2_threshold
from smeftfm.models.scorecard import EuclideanCloud


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    b = 12
    y_sm = np.geomspace(10.0, 1e-3, b)  # pb/GeV
    k = np.full(b, 100.0)  # events per pb/GeV: the last bins expect < 5 events (Poisson)
    a = rng.normal(size=(b, b)) * 0.1
    sd = np.sqrt(y_sm / k)
    cov = np.outer(sd, sd) * (np.eye(b) + a @ a.T / b)
    lik = CountLikelihood(y_sm, cov, k, 5.0)
    assert 0 < lik.low.sum() < b
    n_u, n_r = 30, 40
    coeffs = rng.normal(size=(n_u, 2))
    shapes = np.stack([np.linspace(0, 1, b), np.linspace(1, 0, b) ** 2])
    y_u = y_sm * (1 + 0.3 * coeffs @ shapes)
    z = rng.standard_normal((n_u, n_r, b)) @ np.linalg.cholesky(cov).T
    x = (y_u[:, None, :] + z).reshape(-1, b)
    low = lik.low
    x[:, low] = rng.poisson(np.repeat(y_u, n_r, axis=0)[:, low] * k[low]) / k[low]
    labels = np.repeat(np.arange(n_u), n_r)
    return lik, y_sm, x, labels, np.repeat(coeffs, n_r, axis=0)


def test_identity_start_metric_block_is_the_gof_residual(toy):
    lik, y_sm, x, labels, coeffs = toy
    white = GofWhitening(lik)
    cfg = MetricConfig(latent_dim=0, depth=1, width=8, steps=30, batch_size=64, coef_width=16, seed=1)
    emb, stats = train_metric(x, labels, white, y_sm, cfg, coeffs=coeffs)
    # the stress is exactly 0 at the identity, so training leaves the metric block there
    assert stats["final_stress"] < 1e-10 and stats["metric_dim"] == white.nu and stats["coef_dim"] == 2
    zm = emb.metric(x)
    np.testing.assert_allclose(zm, white.whiten(x, y_sm), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose((zm ** 2).sum(1), lik.gof(x), rtol=1e-3, atol=1e-3)
    z = emb(x)
    assert z.shape == (len(x), white.nu + 2) and np.allclose(z[:, : white.nu], zm)
    assert emb.project2d(x).shape == (len(x), 2)


def test_random_start_is_not_the_gof_residual(toy):
    """The identity test above can fail: without identity_init the block is a different map."""
    lik, y_sm, x, labels, _ = toy
    white = GofWhitening(lik)
    emb, _ = train_metric(x, labels, white, y_sm, MetricConfig(latent_dim=0, depth=1, width=8, steps=5,
                                                                batch_size=64, identity_init=False, coef_width=0))
    assert not np.allclose(emb.metric(x), white.whiten(x, y_sm), atol=1e-2)


def test_coefficient_rows_must_match(toy):
    lik, y_sm, x, labels, coeffs = toy
    with pytest.raises(SmeftfmError, match="one row per replica"):
        train_metric(x, labels, GofWhitening(lik), y_sm, MetricConfig(steps=1), coeffs=coeffs[:-1])


def test_euclidean_cloud_contours_of_a_unit_normal_cloud():
    """In a latent in sigma units the SM cloud's squared distances follow chi^2_d: the k-sigma contour holds the
    two-sided k-sigma probability of the SM replicas."""
    rng = np.random.default_rng(3)
    d = 20
    cloud = EuclideanCloud(rng.standard_normal((20000, d)))
    assert cloud.s2 == pytest.approx(1.0, abs=0.02)
    d2 = cloud.mahalanobis2(rng.standard_normal((20000, d)))
    assert np.mean(d2 <= cloud.radius2(1.0)) == pytest.approx(0.6827, abs=0.01)
    assert cloud.radius2(3.0) == chi2_threshold(3.0, d)
    # scale invariance: a latent in other units gives the same distances
    z = 5.0 * rng.standard_normal((20000, d))
    np.testing.assert_allclose(EuclideanCloud(z).mahalanobis2(z[:5]), EuclideanCloud(z / 5).mahalanobis2(z[:5] / 5))

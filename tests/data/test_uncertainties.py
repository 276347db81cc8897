"""The replica uncertainty model (eqs. 3.4-3.18): statistical checks that fail for a wrong implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from smeftfm.data.uncertainties import (
    UncertaintyModel,
    covariance,
    effective_luminosity,
    rbf_kernel,
)
from smeftfm.errors import SmeftfmError

N_REP = 20_000


@pytest.fixture(scope="module")
def model(templates):
    return UncertaintyModel.from_templates(templates, n_events=10_000)


@pytest.fixture(scope="module")
def y_bsm(templates):
    return templates.predict(np.array([0.3, -0.05, 0.2]))


@pytest.fixture(scope="module")
def replicas(model, y_bsm):
    return model.sample(y_bsm, N_REP, np.random.default_rng(42))


def _sigma_tot(templates, y):
    sl = templates.slice("mll")
    return float((y[sl] * templates.widths[sl]).sum())


def test_effective_luminosity_is_n_over_sigma(templates, model):
    sigma = _sigma_tot(templates, templates.term("SM"))
    assert model.l_eff == pytest.approx(10_000 / sigma, rel=1e-12)
    assert effective_luminosity(2.0, 100) == pytest.approx(50.0)
    with pytest.raises(SmeftfmError, match="positive"):
        effective_luminosity(-1.0, 100)


def test_sample_mean_within_four_standard_errors(model, y_bsm, replicas):
    se = np.sqrt(np.diag(model.covariance(y_bsm)) / N_REP)
    live = se > 0
    z = (replicas.mean(0) - y_bsm)[live] / se[live]
    assert np.all(np.abs(z) < 4.0), np.abs(z).max()
    # and the z-scores look standard normal overall (a biased or mis-scaled sampler fails this)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_sample_covariance_matches_sigma_within_sampling_error(model, y_bsm, replicas):
    """Relative Frobenius error of the sample covariance vs Sigma, against its sampling-theory size.

    For Gaussian data E||S - Sigma||_F^2 = (||Sigma||_F^2 + tr(Sigma)^2) / (n - 1). We compare in the
    standardised basis (replicas divided by the per-bin scale) so the tail bins count as much as the Z peak;
    there the target is the block RBF correlation matrix K.
    """
    s = model.scales(y_bsm)
    live = s > 0
    u = ((replicas - y_bsm)[:, live] / s[live])
    sample = np.cov(u, rowvar=False)
    k = model.kernel[np.ix_(live, live)]
    err = np.linalg.norm(sample - k)
    expected = np.sqrt((np.linalg.norm(k) ** 2 + np.trace(k) ** 2) / (N_REP - 1))
    assert err < 1.5 * expected, (err, expected)
    assert err > 0.5 * expected  # not suspiciously exact either (e.g. a reused or degenerate draw)
    # the same check on the raw covariance, dominated by the high-rate bins
    cov = model.covariance(y_bsm)
    raw_err = np.linalg.norm(np.cov(replicas, rowvar=False) - cov)
    raw_exp = np.sqrt((np.linalg.norm(cov) ** 2 + np.trace(cov) ** 2) / (N_REP - 1))
    assert raw_err < 1.5 * raw_exp


def test_integrated_variance_equals_delta_sigma_squared(templates, model, replicas, y_bsm):
    cov_sm = model.covariance(templates.term("SM"))
    cov = model.covariance(y_bsm)
    dx = templates.widths
    sigma_sm = _sigma_tot(templates, templates.term("SM"))
    for obs in ("mll", "pt"):
        sl = templates.slice(obs)
        d = np.zeros_like(dx)
        d[sl] = dx[sl]
        # SM: exactly the calibration Delta sigma_tot^2 = sigma_tot^2 / N of eq. 3.10 (both views of the events)
        sigma_block = float((templates.term("SM")[sl] * dx[sl]).sum())
        assert d @ cov_sm @ d == pytest.approx(sigma_block / model.l_eff, rel=1e-10)
        assert sigma_block == pytest.approx(sigma_sm, rel=2e-3)
        # any universe: the Poisson variance of its own integral at the same luminosity (eq. 3.9)
        target = float((y_bsm[sl] * dx[sl]).sum()) / model.l_eff
        assert d @ cov @ d == pytest.approx(target, rel=1e-10)
        sums = replicas @ d
        assert sums.var(ddof=1) == pytest.approx(target, rel=4 * np.sqrt(2 / (N_REP - 1)))
    # no correlation between the m_ll and p_T blocks
    assert np.all(cov[templates.slice("mll"), templates.slice("pt")] == 0)


def test_fractional_uncertainty_falls_as_cross_section_rises(templates, model, y_bsm):
    """Eq. 3.12: Delta y / y = sqrt(alpha / (L y Delta X)) within a block (common alpha)."""
    rel = np.sqrt(np.diag(model.covariance(y_bsm))) / y_bsm
    for obs in ("mll", "pt"):
        sl = templates.slice(obs)
        yy, rr = y_bsm[sl], rel[sl]
        ok = yy > 0
        order = np.argsort(yy[ok])
        assert np.all(np.diff(rr[ok][order]) <= 1e-12)
        # exact scaling with 1/sqrt(y Delta X)
        c = rr[ok] * np.sqrt(yy[ok] * templates.widths[sl][ok])
        np.testing.assert_allclose(c, c[0], rtol=1e-10)


def test_luminosity_rescaling(templates, y_bsm, model):
    l_des_fb = 140.0
    m2 = model.l_eff / (l_des_fb * 1e3)
    scaled = UncertaintyModel.from_templates(templates, 10_000, lumi_fb=l_des_fb)
    np.testing.assert_allclose(scaled.covariance(y_bsm), m2 * model.covariance(y_bsm), rtol=1e-12)
    assert scaled.rescale == pytest.approx(np.sqrt(m2))


def test_function_api_matches_the_model(templates, model, y_bsm):
    centers = np.concatenate([b.centers for b in templates.binnings])
    cov = covariance(y_bsm, templates.widths, centers, model.blocks, model.l_eff, 35.0)
    np.testing.assert_allclose(cov, model.covariance(y_bsm), rtol=1e-12)
    k = rbf_kernel(np.array([0.0, 35.0]), 35.0)
    assert k[0, 1] == pytest.approx(np.exp(-0.5))


def test_non_positive_bins_get_zero_variance_and_no_nan(model, y_bsm):
    y = y_bsm.copy()
    y[[5, 70]] = [-1e-3, 0.0]
    cov = model.covariance(y)
    assert np.all(np.isfinite(cov))
    assert cov[5, 5] == 0 and cov[70, 70] == 0
    r = model.sample(y, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(r[:, 5], y[5])

"""Sigma(rho): the paper's matrix at rho = 1, full rank below, eq. 3.17 at every rho, Poisson low-count bins."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.data.noise import NoiseModel, poisson_quantile
from smeftfm.data.uncertainties import UncertaintyModel
from smeftfm.errors import SmeftfmError
from smeftfm.physics.joint import joint_templates
from smeftfm.physics.oracle import DEFAULT_BINNINGS, QuadratureSpec


@pytest.fixture(scope="module")
def cross(oracle):
    return joint_templates(oracle, *DEFAULT_BINNINGS, "linear", QuadratureSpec(8, 5.0, 12, 12, 6))[0]


@pytest.fixture(scope="module")
def y_sm(templates):
    return templates.term("SM")


def _model(templates, rho, poisson_below=0.0, lumi_fb=None):
    return NoiseModel.from_templates(templates, 10_000, nugget=rho, poisson_below=poisson_below, lumi_fb=lumi_fb)


def test_rho_one_is_the_paper_covariance(templates, y_sm, cross):
    paper = UncertaintyModel.from_templates(templates, 10_000).covariance(y_sm)
    np.testing.assert_array_equal(_model(templates, 1.0).covariance(y_sm, cross), paper)
    np.testing.assert_array_equal(_model(templates, 1.0).covariance(y_sm), paper)  # no 2-D templates needed


def test_rank_full_below_one_and_one_constraint_at_zero(templates, y_sm, cross):
    n = y_sm.size
    for rho in (0.1, 0.5, 0.9):
        cov = _model(templates, rho).covariance(y_sm, cross)
        w = np.linalg.eigvalsh(cov / np.abs(cov).max())
        assert w.min() > 1e-12 and np.linalg.matrix_rank(cov, tol=1e-12 * w.max()) == n, rho
    paper = _model(templates, 1.0).covariance(y_sm)
    w = np.linalg.eigvalsh(paper / np.abs(paper).max())
    assert (w > 1e-3 * w.max()).sum() < n // 2  # the rank deficiency the nugget removes
    cov0 = _model(templates, 0.0).covariance(y_sm, cross)
    mll, pt = templates.slice("mll"), templates.slice("pt")
    v = np.zeros(n)
    v[mll], v[pt] = templates.widths[mll], -templates.widths[pt]  # sigma(m_ll hist) - sigma(p_T hist)
    # same events fill both histograms: the difference of their integrals has no variance (up to quadrature)
    assert v @ cov0 @ v < 2e-3 * (v * v) @ np.diag(cov0)
    assert np.linalg.eigvalsh(cov0).min() > -1e-12 * np.abs(cov0).max()


@pytest.mark.parametrize("rho", [0.0, 0.3, 1.0])
def test_block_integrals_keep_the_poisson_variance(templates, y_sm, cross, rho):
    """Eq. 3.17: Delta X_b^T Sigma Delta X_b = sigma_b / L for each observable block, at every rho."""
    m = _model(templates, rho)
    cov = m.covariance(y_sm, cross)
    for obs in ("mll", "pt"):
        sl = templates.slice(obs)
        dx = np.zeros(y_sm.size)
        dx[sl] = templates.widths[sl]
        sigma_b = float((y_sm[sl] * templates.widths[sl]).sum())
        assert dx @ cov @ dx == pytest.approx(sigma_b / m.lumi, rel=1e-9)


def test_cross_covariance_is_events_in_both_bins(templates, y_sm, cross):
    m = _model(templates, 0.0)
    cov = m.covariance(y_sm, cross)
    mll, pt = templates.slice("mll"), templates.slice("pt")
    i, j = 4, 3  # m_ll 90-100 GeV, p_T 40-50 GeV (the Jacobian peak)
    w = templates.widths
    assert cov[mll.start + i, pt.start + j] == pytest.approx(cross[i, j] / (m.lumi * w[mll][i] * w[pt][j]))
    assert cov[pt.start + j, mll.start + i] == cov[mll.start + i, pt.start + j]
    assert cov[i, i] == pytest.approx(y_sm[i] / (m.lumi * w[i]))


def test_nugget_without_cross_sections_is_a_clear_error(templates, y_sm):
    with pytest.raises(SmeftfmError, match="joint"):
        _model(templates, 0.5).covariance(y_sm)
    with pytest.raises(SmeftfmError, match="nugget"):
        _model(templates, 1.5)


def test_poisson_quantile_matches_scipy():
    from scipy import stats

    u = np.random.default_rng(0).uniform(size=(1000, 3))
    mu = np.array([0.01, 0.7, 4.2])
    np.testing.assert_array_equal(poisson_quantile(u, mu), stats.poisson.ppf(u, mu))


def test_low_count_bins_are_poisson_and_nothing_is_negative(templates, y_sm, cross):
    m = _model(templates, 0.5, poisson_below=5.0)
    mu = m.expected_events(y_sm)
    low = (mu < 5) & (y_sm > 0)
    assert low.sum() >= 5  # the high-mass and high-p_T tail at L_eff
    x = m.sample(y_sm, 40_000, np.random.default_rng(3), cross)
    assert np.all(x >= 0)
    n = x * m.lumi * m.widths
    np.testing.assert_allclose(n[:, low], np.round(n[:, low]), atol=1e-6)  # integer counts
    for k in np.flatnonzero(low)[:6]:
        assert n[:, k].mean() == pytest.approx(mu[k], abs=4 * np.sqrt(mu[k] / len(n)) + 1e-3)
        assert n[:, k].var() == pytest.approx(mu[k], rel=0.05, abs=2e-3)
    gauss = ~low & (y_sm > 0)
    np.testing.assert_allclose(x[:, gauss].mean(0), y_sm[gauss], rtol=0.01)
    cov = m.covariance(y_sm, cross)
    emp = np.cov(x[:, gauss], rowvar=False)
    ref = cov[np.ix_(gauss, gauss)]
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref)))
    assert np.abs((emp - ref) / scale).max() < 0.05


def test_paper_variant_keeps_gaussian_replicas(templates, y_sm):
    m = _model(templates, 1.0, poisson_below=0.0)
    x = m.sample(y_sm, 5000, np.random.default_rng(4))
    assert np.any(x < 0)  # the paper's Gaussian replicas go negative in the tail (what poisson_below fixes)

"""The fit's statistics: analytic Gaussian limit, Asimov recovery with oracle pseudo-data, and toy coverage."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.fit.intervals import delta_chi2, minos_intervals, profile_scan, scan_single
from smeftfm.fit.likelihood import DatasetLikelihood, Likelihood, embed
from smeftfm.fit.measurements import Dataset, DatasetPhaseSpace
from smeftfm.fit.posterior import sample_posterior
from smeftfm.fit.predict import dataset_templates
from smeftfm.fit.toys import interval_coverage
from smeftfm.physics.oracle import Binning, QuadratureSpec, Templates

OPS = ("clq1", "clq3")


def _linear_problem(fit_norm: bool, seed: int = 1):
    """A linear model y = S + L c with a known dense covariance (12 bins, 2 operators)."""
    rng = np.random.default_rng(seed)
    n = 12
    edges = np.geomspace(100, 2000, n + 1)
    sm = 10.0 * (edges[:-1] / 100) ** -3
    lin = np.stack([sm * 0.3 * (edges[:-1] / 500), sm * (0.1 - 0.2 * (edges[:-1] / 500) ** 2)])
    a = rng.normal(size=(n, n)) * 0.02
    cov = np.diag((0.05 * sm) ** 2) + (a @ a.T) * np.outer(sm, sm) * 0.05
    t = Templates((Binning("mll", edges),), OPS, "linear", np.vstack([sm, lin]))
    data = sm + lin.T @ np.array([0.4, -0.2]) + rng.multivariate_normal(np.zeros(n), cov)
    ds = Dataset("LIN", edges, data, cov, DatasetPhaseSpace(13000.0))
    return DatasetLikelihood(ds, t, fit_norm=fit_norm), sm, lin, cov, data


def test_profile_interval_equals_analytic_gaussian_interval():
    part, sm, lin, cov, data = _linear_problem(fit_norm=False)
    lik = Likelihood([part])
    w = np.linalg.inv(cov)
    z = np.sqrt(delta_chi2(0.95))
    # one operator: c_hat = L W r / L W L, sigma = (L W L)^-1/2
    l0 = lin[0]
    c_hat = l0 @ w @ (data - sm) / (l0 @ w @ l0)
    s = 1 / np.sqrt(l0 @ w @ l0)
    iv = scan_single(lik, "clq1", "linear")
    assert iv.lo == pytest.approx(c_hat - z * s, abs=1e-6 * s) and iv.hi == pytest.approx(c_hat + z * s, abs=1e-6 * s)
    # two operators profiled: c_hat = F^-1 L W r, sigma_i = sqrt(F^-1_ii)
    f = lin @ w @ lin.T
    cinv = np.linalg.inv(f)
    c2 = cinv @ lin @ w @ (data - sm)
    sig = np.sqrt(np.diag(cinv))
    mi = minos_intervals(lik, list(OPS), "linear")
    for k, o in enumerate(OPS):
        assert mi[o].lo == pytest.approx(c2[k] - z * sig[k], abs=1e-4 * sig[k])
        assert mi[o].hi == pytest.approx(c2[k] + z * sig[k], abs=1e-4 * sig[k])
    gp = profile_scan(lik, list(OPS), "clq3", "linear", n_grid=161)
    assert gp.lo == pytest.approx(c2[1] - z * sig[1], rel=0, abs=0.01 * sig[1])


def test_coverage_of_68_interval_on_400_toys():
    """Linear model, one operator, normalisation profiled: the Delta chi2 = 1 interval covers 68.3 % +- 2.3 %."""
    part, *_ = _linear_problem(fit_norm=True)
    cov, best = interval_coverage(part, "clq1", 0.4, "linear", n_toys=400, seed=3)
    assert abs(cov - 0.6827) < 3 * np.sqrt(0.6827 * 0.3173 / 400)
    # and the best fits scatter around the truth (unbiased to within 4 standard errors of the mean)
    assert abs(best.mean() - 0.4) < 4 * best.std() / np.sqrt(best.size)


@pytest.fixture(scope="module")
def oracle_templates():
    """Oracle templates in the ATLAS 7 TeV fiducial phase space (coarse quadrature, 6 bins)."""
    ps = DatasetPhaseSpace(7000.0, pt_min=25.0, eta_max=2.5)
    edges = np.array([116.0, 150.0, 200.0, 300.0, 500.0, 900.0, 1500.0])
    spec = QuadratureSpec(mass_nodes=6, angle_nodes=8, rapidity_nodes=8)
    return ps, dataset_templates(ps, edges, ["clq1", "clq3", "cHl1", "cHe"], "quadratic", spec=spec, name="asimov")


@pytest.mark.parametrize("order", ["linear", "quadratic"])
def test_asimov_recovery_of_injected_coefficients(oracle_templates, order):
    ps, t = oracle_templates
    truth = np.array([0.05, -0.03, 0.0, 0.0])
    asimov = 1.1 * t.predict(truth, order)  # a 10 % normalisation offset that the fit must absorb
    cov = np.diag((0.02 * asimov) ** 2)
    ds = Dataset("ASIMOV", t.binnings[0].edges, asimov, cov, ps)
    lik = Likelihood([DatasetLikelihood(ds, t, fit_norm=True)])
    from smeftfm.fit.intervals import fit_minuit

    m = fit_minuit(lik, ["clq1", "clq3"], order, start=[0.01, 0.01])
    assert m.fval < 1e-5
    assert np.allclose(np.array(m.values), truth[:2], atol=2e-4)
    assert float(lik.parts[0].norm_hat(embed(t.operators, ["clq1", "clq3"], np.array(m.values)), order)) == \
        pytest.approx(1.1, rel=1e-4)
    # one operator injected alone: the single-operator scan's best fit is the truth and chi2_min = 0
    one = 1.1 * t.predict(np.array([0.0, 0.0, 0.0, -0.02]), order)
    lik1 = Likelihood([DatasetLikelihood(Dataset("A1", ds.edges, one, np.diag((0.02 * one) ** 2), ps), t)])
    iv = scan_single(lik1, "cHe", order)
    assert iv.best == pytest.approx(-0.02, abs=1e-5) and iv.chi2_min < 1e-8
    assert iv.lo < -0.02 < iv.hi


def test_posterior_agrees_with_profile_for_a_gaussian_problem():
    part, *_ = _linear_problem(fit_norm=False)
    lik = Likelihood([part])
    post = sample_posterior(lik, list(OPS), "linear", n_walkers=24, n_steps=2000, burn=200, seed=2)
    assert post.converged, (post.tau, post.rhat)
    mi = minos_intervals(lik, list(OPS), "linear")
    for o in OPS:
        lo, hi = post.interval()[o]
        width = mi[o].hi - mi[o].lo
        assert abs(lo - mi[o].lo) < 0.1 * width and abs(hi - mi[o].hi) < 0.1 * width

"""Exact references (GoF chi^2, Neyman-Pearson), physical-unit signals and retrieval against the chi^2 truth."""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.data.noise import NoiseModel
from smeftfm.models.anomaly import auroc
from smeftfm.models.references import (
    CountLikelihood,
    GofWhitening,
    Precision,
    gof_auroc,
    noncentrality,
    np_auroc,
    np_statistic,
    strength_for_auroc,
)
from smeftfm.models.scorecard import EvalData, Replicas, retrieval
from smeftfm.models.signals import SignalSpace
from smeftfm.physics.joint import joint_templates
from smeftfm.physics.oracle import DEFAULT_BINNINGS, QuadratureSpec

N = 20_000


@pytest.fixture(scope="module")
def cross(oracle):
    return joint_templates(oracle, *DEFAULT_BINNINGS, "linear", QuadratureSpec(8, 5.0, 12, 12, 6))[0]


@pytest.fixture(scope="module")
def setup(templates, cross):
    noise = NoiseModel.from_templates(templates, 10_000, nugget=0.95, poisson_below=0.0)  # Gaussian replicas
    y = templates.term("SM")
    cov = noise.covariance(y, cross)
    return noise, y, cov, Precision(cov)


def test_optimal_auroc_of_a_normalisation_shift_is_analytic(setup):
    """delta = eps y_SM: the Neyman-Pearson statistic's empirical AUROC equals Phi(sqrt(lambda/2))."""
    noise, y, cov, prec = setup
    delta = 0.004 * y
    lam = noncentrality(delta, prec)
    assert 0.3 < lam < 5  # an informative, not saturated, regime
    rng = np.random.default_rng(5)
    x0 = noise.sample(y, N, rng, cov=cov)
    x1 = noise.sample(y + delta, N, rng, cov=cov)
    emp = auroc(np_statistic(x1, y, delta, prec), np_statistic(x0, y, delta, prec))
    assert emp == pytest.approx(np_auroc(lam), abs=0.01)
    # and it bounds the goodness-of-fit test from above (same replicas)
    gof = auroc(prec.chi2(x1, y), prec.chi2(x0, y))
    assert gof == pytest.approx(gof_auroc(lam, prec.nu), abs=0.01)
    assert gof < emp - 0.05


def test_gof_auroc_limits_and_strength_inversion():
    assert gof_auroc(0.0, 92) == 0.5
    assert gof_auroc(1e4, 92) > 0.999
    a = [gof_auroc(lam, 92) for lam in (1, 5, 20, 80)]
    assert all(np.diff(a) > 0)
    s = strength_for_auroc(0.8, lambda v: 3.0 * v * v, 92, 1e-3, 1e3)
    assert gof_auroc(3.0 * s * s, 92) == pytest.approx(0.8, abs=1e-3)


def test_signals_add_the_same_events_to_both_histograms(setup, templates, cross):
    noise, y, cov, prec = setup
    e = {b.observable: b.edges for b in templates.binnings}
    space = SignalSpace(y, cross, e["mll"], e["pt"], noise.lumi)
    w = templates.widths
    mll, pt = templates.slice("mll"), templates.slice("pt")
    for sig in ("tail", "resonance"):
        d = space.delta(sig, 40.0)
        assert (d[mll] * w[mll]).sum() * noise.lumi == pytest.approx(40.0, rel=1e-9)
        assert (d[pt] * w[pt]).sum() * noise.lumi == pytest.approx(40.0, rel=1e-6)
        assert np.all(d >= 0)
    z = space.delta("zshift", 1.0)
    assert abs((z[mll] * w[mll]).sum()) < 0.01 * (y[mll] * w[mll]).sum()  # moved, not created
    dm = space.zshift_moving(30.0)
    assert space.events_moved(space.zshift(dm)) == pytest.approx(30.0, rel=1e-4)
    assert np.all(y + space.delta("combined", 90.0) >= 0)


def test_known_incompatible_universe_is_never_retrieved(setup):
    """A universe 20 sigma away (chi^2 = 400) is outside every contour of a perfect (whitened) embedding.

    The inflated reading is looser in many dimensions: k x the uncertainty scales every direction, so its 68 %
    region reaches chi^2 ~ k^2 x 97 in 92 dimensions; it holds the universe out at k = 1 only.
    """
    noise, y, cov, prec = setup
    rng = np.random.default_rng(9)
    d = np.sqrt(np.diag(cov))
    y_far = y + 20.0 * d * (np.arange(y.size) == 4)  # Z-peak bin up by 20 of its sigmas
    chi2_far = float(prec.chi2(y_far, y))
    assert chi2_far > 300
    y_near = y.copy()
    ys = np.stack([y_far, y_near])
    reps = np.concatenate([noise.sample(v, 20, rng, cov=cov) for v in ys])

    def embed(x):
        return prec.whiten(x, y)

    empty = Replicas(np.zeros((2, y.size)), np.array([0, 1]), np.zeros((2, 1)))
    ev = EvalData(y_sm=y, prec=prec, lik=None, seen_train=empty, seen_test=empty,
                  unseen=Replicas(reps, np.repeat([0, 1], 20), np.zeros((40, 1))),
                  unseen_truth_chi2=prec.chi2(ys, y), sm_fit=noise.sample(y, 3000, rng, cov=cov), sm_null=y[None],
                  sm_inflated={k: y + k * (noise.sample(y, 3000, rng, cov=cov) - y) for k in (1.0, 3.0, 6.0)},
                  signals={})
    r = retrieval(embed, ev)
    checks = [("contour", k) for k in r["contour"]] + [("inflated", "1sigma")]
    for reading, key in checks:
        v = r[reading][key]
        assert v["n_true"] == 1  # the SM-like universe only
        assert v["n_retrieved"] <= 1 and (v["precision"] in (None, 1.0)), (reading, key, v)
    assert r["inflated"]["6sigma"]["n_retrieved"] == 2  # the documented looseness (a test that it is stated)


def test_count_likelihood_is_gaussian_without_count_bins_and_tames_rare_events(setup, templates, cross):
    noise, y, cov, prec = setup
    k = noise.counts_per_unit()
    gauss = CountLikelihood(y, cov, k, 0.0)
    x = noise.sample(y, 50, np.random.default_rng(1), cov=cov)
    np.testing.assert_allclose(gauss.gof(x), prec.chi2(x, y), rtol=1e-9)
    delta = 0.01 * y
    np.testing.assert_allclose(gauss.ratio(x, delta), np_statistic(x, y, delta, prec), rtol=1e-9, atol=1e-9)
    counts = NoiseModel.from_templates(templates, 10_000, nugget=0.95, poisson_below=5.0)
    lik = CountLikelihood(y, counts.covariance(y, cross), k, 5.0)
    assert lik.low.sum() > 10
    xs = counts.sample(y, 4000, np.random.default_rng(2), cross)
    g = lik.gof(xs)
    # one event where ~0.01 are expected adds ~7 to the deviance, not ~100 as in a Gaussian chi^2
    assert np.isfinite(g).all() and np.quantile(g, 0.99) < 3 * np.median(g)


def test_gof_whitening_norm_is_the_gof_statistic(setup, templates, cross):
    """||w(x)||^2 of the recommended encoder's input equals the GoF statistic (count bins included); a replica
    with one more event in an empty count bin moves w only in that bin's coordinate."""
    _, y, _, _ = setup
    counts = NoiseModel.from_templates(templates, 10_000, nugget=0.95, poisson_below=5.0)
    lik = CountLikelihood(y, counts.covariance(y, cross), counts.counts_per_unit(), 5.0)
    white = GofWhitening(lik)
    xs = counts.sample(y, 500, np.random.default_rng(4), cross)
    w = white.whiten(xs, y)
    assert w.shape == (500, white.nu) and white.nu == lik.prec.nu + lik.low.sum()
    np.testing.assert_allclose(np.einsum("ij,ij->i", w, w), lik.gof(xs), rtol=1e-9)
    assert np.abs(white.whiten(y, y)).max() < 1e-9  # the SM itself sits at the origin
    bump = xs[:1].copy()
    b = int(np.flatnonzero(lik.low)[-1])
    bump[0, b] += 1.0 / lik.k[b]
    moved = np.flatnonzero(np.abs(white.whiten(bump, y) - w[:1])[0] > 1e-12)
    assert moved.tolist() == [lik.prec.nu + int(lik.low.sum()) - 1]

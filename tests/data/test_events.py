"""Unweighted events reproduce the binned templates; the envelope check and negative rates are handled."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from smeftfm.data.events import EventSampler, NegativeRateError, SamplerStats, sample_events
from smeftfm.errors import SmeftfmError

N_EV = 40_000


def _chi2(counts, expected, min_expected=5.0):
    ok = expected >= min_expected
    chi2 = float(((counts[ok] - expected[ok]) ** 2 / expected[ok]).sum())
    ndf = int(ok.sum()) - 1  # shapes compared at fixed total
    return chi2, ndf


def _check_against_templates(templates, coeffs, m, c):
    y = templates.predict(coeffs)
    w = templates.widths
    for obs, x in (("mll", m), ("pt", 0.5 * m * np.sqrt(1 - c * c))):
        sl = templates.slice(obs)
        b = next(b for b in templates.binnings if b.observable == obs)
        counts, _ = np.histogram(x, b.edges)
        sigma = y[sl] * w[sl]
        expected = m.size * sigma / sigma.sum()  # templates x sigma normalisation
        chi2, ndf = _chi2(counts, expected)
        p = stats.chi2.sf(chi2, ndf)
        assert p > 1e-3, f"{obs}: chi2/ndf = {chi2:.1f}/{ndf}"
        assert chi2 / ndf < 1 + 5 * np.sqrt(2 / ndf)


@pytest.mark.parametrize("coeffs", [np.zeros(3), np.array([0.03, -0.02, 0.01])])
def test_event_histograms_reproduce_the_templates(oracle, templates, coeffs):
    st = SamplerStats()
    from smeftfm.data.events import get_sampler

    m, y, c = get_sampler(oracle).sample(coeffs, N_EV, np.random.default_rng(1), st)
    assert m.shape == y.shape == c.shape == (N_EV,)
    assert oracle.acceptance.contains(m, y, c).all()
    _check_against_templates(templates, coeffs, m, c)
    # the sampler's own integral of the rate agrees with the templates' cross section in the acceptance
    sl = templates.slice("mll")
    sigma = float((templates.predict(coeffs)[sl] * templates.widths[sl]).sum())
    assert abs(st.sigma_pb - sigma) < 5 * st.sigma_err_pb + 2e-3 * sigma
    assert 0.5 < st.efficiency <= 1.0


def test_wrong_distribution_fails_the_same_check(oracle, templates):
    """Power of the chi2 check: a 1% mass-scale error (Z peak moved by 0.9 GeV) is rejected.

    (Moderate Wilson coefficients mostly change the normalisation, which the shape test does not see.)
    """
    m, y, c = sample_events(oracle, np.zeros(3), N_EV, np.random.default_rng(2))
    with pytest.raises(AssertionError):
        _check_against_templates(templates, np.zeros(3), 1.01 * m, c)


def test_envelope_violations_are_detected_and_repaired(oracle, templates):
    """With an envelope deliberately below the rate the sampler must notice, raise it and redraw."""
    s = EventSampler(oracle, n_v=4, n_w=4, safety=0.7)
    st = SamplerStats()
    m, y, c = s.sample(np.zeros(3), N_EV, np.random.default_rng(3), st)
    assert st.n_restarts > 0
    f = s._lattice_terms[:, 0].reshape(s._lattice_shape)  # SM lattice values, pb/GeV in the box
    assert np.all(s.last_envelope >= 0.7 * f[1::2, 1::2, 1::2].ravel())
    _check_against_templates(templates, np.zeros(3), m, c)


def test_negative_linear_rate_raises_a_clear_error(oracle):
    with pytest.raises(NegativeRateError, match="quadratic"):
        sample_events(oracle, np.array([2.0, -1.0, 2.0]), 100, np.random.default_rng(0))
    # the same point is a valid density at quadratic order
    m, _, _ = sample_events(oracle, np.array([2.0, -1.0, 2.0]), 200, np.random.default_rng(0), order="quadratic")
    assert m.size == 200


def test_same_generator_state_same_events(oracle):
    a = sample_events(oracle, np.zeros(3), 1000, np.random.default_rng(5))
    b = sample_events(oracle, np.zeros(3), 1000, np.random.default_rng(5))
    for x, z in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, z)


def test_mass_tilted_events_reweight_to_the_unbiased_templates(oracle, templates):
    """Events drawn from rate x (m/m_lo)^k, weighted by (m/m_lo)^-k, reproduce the unbiased m_ll templates.

    Weighted chi2 per bin with variance sum(w^2); the unweighted tilted sample must fail the same check (power),
    and the tilt must actually move events into the tail.
    """
    from smeftfm.data.events import tilt_weights

    k = 4.0
    m, y, c = sample_events(oracle, np.zeros(3), N_EV, np.random.default_rng(5), mass_tilt=k)
    assert oracle.acceptance.contains(m, y, c).all()
    w = tilt_weights(m, k, oracle.acceptance.m_lo)
    sl = templates.slice("mll")
    b = next(b for b in templates.binnings if b.observable == "mll")
    sigma = templates.predict(np.zeros(3))[sl] * templates.widths[sl]
    frac = sigma / sigma.sum()
    assert np.mean(m > 200.0) > 20 * frac[b.centers > 200.0].sum()

    def chi2(weights):
        wsum, _ = np.histogram(m, b.edges, weights=weights)
        w2, _ = np.histogram(m, b.edges, weights=weights**2)
        n, _ = np.histogram(m, b.edges)
        ok = n >= 20
        expected = weights.sum() * frac
        return float(((wsum[ok] - expected[ok]) ** 2 / w2[ok]).sum()), int(ok.sum()) - 1

    x2, ndf = chi2(w)
    assert stats.chi2.sf(x2, ndf) > 1e-3, f"weighted chi2/ndf = {x2:.1f}/{ndf}"
    x2_bad, _ = chi2(np.ones_like(m))
    assert stats.chi2.sf(x2_bad, ndf) < 1e-6


def test_negative_mass_tilt_is_rejected(oracle):
    with pytest.raises(SmeftfmError, match="mass_tilt"):
        sample_events(oracle, np.zeros(3), 10, np.random.default_rng(0), mass_tilt=-1.0)


def test_events_without_lepton_cuts_use_the_full_phase_space(oracle):
    """eta_max = inf (``Acceptance.no_cuts``): the sampler's boundaries stay finite at |cos| = 1 (no inf - inf),
    its integral of the rate equals the oracle's no-cut cross section in the window, and events reach the
    |cos theta_CS| region that |eta| < 2.5 removes at high mass."""
    from smeftfm.data.events import EventSampler
    from smeftfm.physics.kinematics import Acceptance
    from smeftfm.physics.oracle import Oracle, QuadratureSpec

    acc = Acceptance.no_cuts(300.0, 2500.0)
    free = Oracle(operators=oracle.operators, pdf=oracle.pdf, ew=oracle.ew, acceptance=acc)
    cos = np.array([-1.0, -0.5, 0.0, 1.0])
    assert np.all(np.isfinite(acc.y_max(np.full(4, 300.0), cos, free.ew.sqrt_s)))
    st = SamplerStats()
    m, y, c = EventSampler(free).sample(np.zeros(3), 20_000, np.random.default_rng(3), st)
    assert np.all(np.isfinite(m) & np.isfinite(y) & np.isfinite(c))
    assert acc.contains(m, y, c).all()
    sigma = float(free.integrated_terms(300.0, 2500.0, cuts=False, spec=QuadratureSpec(8, 5.0, 12, 12, 6))[0])
    assert abs(st.sigma_pb - sigma) < 5 * st.sigma_err_pb + 5e-3 * sigma
    eta = np.abs(y) + np.arctanh(np.clip(np.abs(c), 0.0, 1.0 - 1e-16))
    assert (eta > 2.5).mean() > 0.05  # a 2.5 cut would have removed these

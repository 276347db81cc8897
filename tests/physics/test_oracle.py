"""Physics tests of the analytic LO oracle: independent numbers, limits, symmetries and sum rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError, UnknownOperatorError
from smeftfm.physics.amplitudes import AmplitudeBasis, couplings, reduced_amplitudes
from smeftfm.physics.constants import DEFAULT_EW
from smeftfm.physics.morphing import monomials, term_names
from smeftfm.physics.operators import FOUR_FERMION
from smeftfm.physics.oracle import Binning, Oracle, QuadratureSpec

from .conftest import to_numpy

RNG = np.random.default_rng(20261126)


def _random_events(n, rng=RNG):
    m = rng.uniform(55.0, 640.0, n)
    y = rng.uniform(-2.2, 2.2, n)
    c = rng.uniform(-0.95, 0.95, n)
    return m, y, c


# ---------------------------------------------------------------- partonic normalisation (independent formulae)
def _partonic_sigma(s, f2_sum_weighted):
    """sigma_hat = s/(384 pi) * sum_ij |F_ij|^2 * int (1 + h cos)^2 dcos, the integral being 8/3."""
    return s / (384 * math.pi) * f2_sum_weighted * 8.0 / 3.0


def test_pure_photon_partonic_cross_section_is_4pi_alpha2_q2_over_9s():
    ew = DEFAULT_EW
    basis = AmplitudeBasis.build(ew, ["clq1"])
    s = 30.0**2
    for t, q in ((0, 2 / 3), (1, -1 / 3)):
        photon = basis.c0[0, 4 * t : 4 * t + 4] / s  # F_ij from photon exchange only
        sigma = _partonic_sigma(s, np.sum(photon**2))
        assert sigma == pytest.approx(4 * math.pi * ew.alpha**2 * q**2 / (9 * s), rel=1e-12)


def test_z_pole_partonic_cross_section_matches_breit_wigner_peak_formula():
    # At s = m_Z^2 the Z amplitude is g_q g_mu / (i m_Z Gamma_Z); the photon-Z interference vanishes there.
    # Narrow-resonance formula with colour average: sigma = 12 pi Gamma_1(qq) Gamma(mumu) / (3 m_Z^2 Gamma_Z^2),
    # Gamma_1(ff) = m_Z (g_L^2 + g_R^2) / (24 pi) per colour.
    ew = DEFAULT_EW
    cp = couplings(ew, ["clq1"])
    s = ew.m_z**2
    f0, _ = reduced_amplitudes(np.array([s]), ew, cp)
    gz = cp.g0[1]
    for t, fi in ((0, 0), (1, 1)):
        photon = cp.g0[0, fi, [0, 0, 1, 1]] * cp.g0[0, 2, [0, 1, 0, 1]] / s
        z_only = f0[0, t] - photon
        sigma = _partonic_sigma(s, np.sum(np.abs(z_only) ** 2))
        width_q = ew.m_z * (gz[fi, 0] ** 2 + gz[fi, 1] ** 2) / (24 * math.pi)
        width_mu = ew.m_z * (gz[2, 0] ** 2 + gz[2, 1] ** 2) / (24 * math.pi)
        expect = 12 * math.pi * width_q * width_mu / (3 * ew.m_z**2 * ew.gamma_z**2)
        assert sigma == pytest.approx(expect, rel=1e-12)


def test_z_partial_width_to_muons_is_the_measured_one():
    # Gamma(Z -> mu mu) = 83.98 MeV (PDG) - tree level in the m_W scheme is within 1 %.
    ew = DEFAULT_EW
    cp = couplings(ew, ["clq1"])
    gz = cp.g0[1]
    width_mu = ew.m_z * (gz[2, 0] ** 2 + gz[2, 1] ** 2) / (24 * math.pi)
    assert width_mu == pytest.approx(0.08398, rel=0.01)


def test_derived_inputs_of_the_mw_scheme():
    ew = DEFAULT_EW
    assert ew.sw2 == pytest.approx(1 - (80.387 / 91.1876) ** 2, rel=1e-14)
    assert 1 / ew.alpha == pytest.approx(132.2, abs=0.2)  # alpha(G_F) in the m_W scheme
    assert ew.vev == pytest.approx(246.22, abs=0.01)


# ---------------------------------------------------------------- hadronic SM numbers
def test_sm_cross_section_60_120_without_cuts_is_lo_sized(oracle):
    sigma_pb = oracle.integrated_cross_section(60.0, 120.0, cuts=False)
    assert 0.6 * 1900.0 <= sigma_pb <= 1.1 * 1900.0  # measured 1.9 nb; LO with LO PDFs


def test_z_peak_sits_at_the_z_mass(oracle):
    m = np.linspace(88.0, 94.0, 241)
    spec = oracle.mass_spectrum(m, cuts=False)[:, 0]
    assert abs(m[np.argmax(spec)] - DEFAULT_EW.m_z) <= 0.05


def test_jacobian_peak_of_muon_pt_near_half_the_z_mass(oracle):
    b = Binning.uniform("pt", 30.0, 60.0, 30)
    t = oracle.binned_templates("linear", (b,))
    peak_bin = np.argmax(t.term("SM"))
    assert b.edges[peak_bin] <= DEFAULT_EW.m_z / 2 <= b.edges[peak_bin + 1] + 1.0


def test_forward_backward_asymmetry_signs(oracle):
    afb = oracle.forward_backward_asymmetry([60.0, 75.0, 150.0, 400.0])
    assert afb[0] < 0 and afb[1] < 0  # below the pole
    assert afb[2] > 0 and afb[3] > 0  # above the pole


def test_rate_is_symmetric_under_y_to_minus_y_in_the_cs_frame(oracle, backend):
    # pp is symmetric under beam exchange; with z along the boost the CS angle keeps its meaning
    m, y, c = _random_events(500)
    coeffs = RNG.normal(size=len(oracle.operators))
    a = to_numpy(oracle.differential_rate(m, y, c, coeffs, backend=backend))
    b = to_numpy(oracle.differential_rate(m, -y, c, coeffs, backend=backend))
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_mll_and_pt_histograms_integrate_to_the_same_sigma(oracle, quad_templates):
    # both histograms count the same events in the acceptance: a sum rule across two quadratures
    t = quad_templates
    widths = t.widths
    for k in (0, 1, 5, 20, 100):
        s_mll = float(np.sum(t.values[k, t.slice("mll")] * widths[t.slice("mll")]))
        s_pt = float(np.sum(t.values[k, t.slice("pt")] * widths[t.slice("pt")]))
        assert s_pt == pytest.approx(s_mll, rel=1e-6, abs=1e-9 * abs(t.values[0]).max())
    sigma = oracle.integrated_cross_section()
    assert float(np.sum(t.term("SM")[t.slice("mll")] * widths[t.slice("mll")])) == pytest.approx(sigma, rel=1e-10)


def test_event_rate_integrates_to_the_binned_template(oracle, backend):
    # mode (a) integrated over y and cos by plain GL on the bin reproduces mode (b)
    lo, hi = 300.0, 310.0
    mg, wm = np.polynomial.legendre.leggauss(8)
    cg, wc = np.polynomial.legendre.leggauss(40)
    yg, wy = np.polynomial.legendre.leggauss(40)
    total = 0.0
    for mi, wi in zip(0.5 * (hi - lo) * (mg + 1) + lo, 0.5 * (hi - lo) * wm):
        cmax = float(oracle.acceptance.cos_max(np.array(mi)))
        half = 0.5 * cmax * (cg + 1)
        c = np.concatenate([half, -half])  # cos_CS in [0, cmax] and [-cmax, 0] (y_max has a kink at 0)
        wcs = np.concatenate([0.5 * cmax * wc, 0.5 * cmax * wc])
        ymax = oracle.acceptance.y_max(np.array(mi), c, DEFAULT_EW.sqrt_s)
        y = ymax[:, None] * yg[None, :]
        w = (wcs * ymax)[:, None] * wy[None, :]
        r = to_numpy(oracle.differential_rate(np.full(y.size, mi), y.ravel(), np.repeat(c, yg.size), backend=backend))
        total += wi * float(r @ w.ravel())
    b = oracle.binned_templates("linear", (Binning("mll", np.array([lo, hi])),))
    assert total / (hi - lo) == pytest.approx(float(b.term("SM")[0]), rel=1e-6)


# ---------------------------------------------------------------- morphing polynomial
def test_polynomial_reproduces_direct_evaluation(oracle, backend):
    m, y, c = _random_events(400)
    for order in ("linear", "quadratic"):
        terms = to_numpy(oracle.event_terms(m, y, c, order=order, backend=backend))
        for _ in range(5):
            coeffs = RNG.normal(scale=1.5, size=len(oracle.operators)) * (RNG.random(len(oracle.operators)) < 0.6)
            poly = terms @ monomials(coeffs, order)
            direct = oracle.differential_rate_direct(m, y, c, coeffs, order=order)
            np.testing.assert_allclose(poly, direct, rtol=1e-10, atol=1e-10 * np.abs(direct).max())


def test_sign_flip_of_c_flips_the_linear_term_exactly(oracle, quad_templates):
    m, y, c = _random_events(300)
    coeffs = RNG.normal(size=len(oracle.operators))
    sm = oracle.differential_rate_direct(m, y, c, np.zeros_like(coeffs), order="linear")
    up = oracle.differential_rate_direct(m, y, c, coeffs, order="linear") - sm
    down = oracle.differential_rate_direct(m, y, c, -coeffs, order="linear") - sm
    np.testing.assert_allclose(up, -down, rtol=1e-11, atol=1e-14 * np.abs(sm).max())
    t = quad_templates
    sm_b = t.term("SM")
    np.testing.assert_allclose(t.predict(coeffs, "linear") - sm_b, -(t.predict(-coeffs, "linear") - sm_b),
                               rtol=1e-12, atol=1e-14 * sm_b.max())
    # with the quadratic terms, the C -> -C average is SM + quadratic part (even in C)
    avg = 0.5 * (t.predict(coeffs) + t.predict(-coeffs))
    quad_only = t.predict(coeffs) - t.predict(coeffs, "linear")
    np.testing.assert_allclose(avg - sm_b, quad_only, rtol=1e-9, atol=1e-12 * sm_b.max())


def test_quadratic_diagonal_terms_are_non_negative(oracle, quad_templates, backend):
    t = quad_templates
    for op in oracle.operators:
        assert np.all(t.term(f"quad:{op}*{op}") >= 0.0), op
    # and a dimension-6-squared-only rate is non-negative at the event level too
    m, y, c = _random_events(300)
    e = to_numpy(oracle.event_terms(m, y, c, order="quadratic", backend=backend))
    names = term_names(oracle.operators, "quadratic")
    for op in oracle.operators:
        assert np.all(e[:, names.index(f"quad:{op}*{op}")] >= 0.0)


def test_four_fermion_interference_grows_like_m_squared(oracle, quad_templates):
    t = quad_templates
    centers = t.binnings[0].centers
    sel = centers > 250.0
    sm = t.term("SM")[t.slice("mll")]
    for op in FOUR_FERMION:
        ratio = t.term(f"lin:{op}")[t.slice("mll")] / sm
        assert np.all(np.sign(ratio[sel]) == np.sign(ratio[sel][0])), op
        slope = np.polyfit(np.log(centers[sel]), np.log(np.abs(ratio[sel])), 1)[0]
        assert 1.5 < slope < 3.0, (op, slope)


def test_partonic_contact_interference_scales_exactly_like_s_at_high_energy():
    ew = DEFAULT_EW
    cp = couplings(ew, list(FOUR_FERMION))
    s = np.array([5000.0, 10000.0]) ** 2
    f0, f1 = reduced_amplitudes(s, ew, cp)
    ratio = 2 * np.real(np.conj(f0)[..., None] * f1) / np.abs(f0[..., None]) ** 2  # [s, t, pair, k]
    nonzero = np.abs(f1[0]) > 0
    growth = ratio[1][nonzero] / ratio[0][nonzero]
    np.testing.assert_allclose(growth, 4.0, rtol=2e-3)  # s doubled twice -> ratio x 4 (up to m_Z^2/s)


def test_vertex_operators_do_not_grow_with_energy(oracle, quad_templates):
    t = quad_templates
    sm = t.term("SM")[t.slice("mll")]
    centers = t.binnings[0].centers
    hi = centers > 400
    growth_4f = t.term("lin:clq3")[t.slice("mll")][hi] / sm[hi]
    assert growth_4f[-1] / growth_4f[0] > 2.0  # contact term over the same range
    for op in ("cHq3", "cHl1", "cHe", "cHWB"):
        ratio = (t.term(f"lin:{op}")[t.slice("mll")] / sm)[hi]
        assert np.ptp(ratio) < 0.15 * np.abs(ratio).max(), op  # nearly flat at high mass


# ---------------------------------------------------------------- quadrature and backends
def test_quadrature_converges_to_1e4_when_refined(oracle):
    # the hardest bins: the pole, the window edges, the Jacobian peak and the kinematic end point of p_T
    binnings = (
        Binning("mll", np.array([50.0, 60.0, 70.0])), Binning("mll", np.array([80.0, 90.0, 100.0])),
        Binning("mll", np.array([640.0, 650.0])),
        Binning("pt", np.array([10.0, 20.0, 30.0])), Binning("pt", np.array([40.0, 50.0, 60.0])),
        Binning("pt", np.array([320.0, 330.0])),
    )
    small = Oracle(operators=("clq3", "cHWB", "cHDD"), pdf=oracle.pdf)
    base = small.binned_templates("quadratic", binnings, QuadratureSpec())
    fine = small.binned_templates("quadratic", binnings, QuadratureSpec().refine(1.5))
    scale = np.abs(fine.values).max(axis=0)
    assert np.max(np.abs(fine.values - base.values) / scale) <= 1e-4


def test_unknown_backend_is_one_clear_error(oracle):
    with pytest.raises(SmeftfmError, match="unknown backend 'jax'"):
        oracle.event_terms([91.0], [0.0], [0.1], backend="jax")


def test_torch_and_numpy_backends_agree(oracle):
    torch = pytest.importorskip("torch")
    m, y, c = _random_events(200)
    a = oracle.event_terms(m, y, c, order="quadratic")
    b = oracle.event_terms(m, y, c, order="quadratic", backend="torch", device="cpu")
    assert isinstance(b, torch.Tensor)
    np.testing.assert_allclose(b.numpy(), a, rtol=1e-12, atol=1e-15 * np.abs(a).max())


def test_acceptance_mask_matches_the_cuts(oracle):
    m = np.array([91.0, 91.0, 91.0, 30.0, 91.0])
    y = np.array([0.0, 2.4, 0.0, 0.0, 0.0])
    c = np.array([0.0, 0.5, 0.98, 0.0, 0.999])
    # eta(mu-) = y + atanh(c): 2.4+0.55 > 2.5; pT = 45.5*sqrt(1-0.98^2)=9.05 < 10; m < 50; |eta| > 2.5
    np.testing.assert_array_equal(oracle.acceptance.contains(m, y, c), [True, False, False, False, False])


# ---------------------------------------------------------------- errors
def test_unknown_operator_is_one_clear_error():
    with pytest.raises(UnknownOperatorError, match="unknown operator 'clq4'.*did you mean"):
        Oracle(operators=("clq4",))


def test_chirality_flipping_operator_has_no_amplitude_here():
    with pytest.raises(UnknownOperatorError, match="cannot interfere"):
        Oracle(operators=("clequ1Re",))


@pytest.mark.parametrize("edges", [[50.0], [60.0, 50.0], [0.0, 10.0], [50.0, float("nan")]])
def test_bad_bin_specification_is_one_clear_error(edges):
    with pytest.raises(SmeftfmError, match="bad bin specification"):
        Binning("mll", np.array(edges))


def test_unknown_observable_is_rejected():
    with pytest.raises(SmeftfmError, match="unknown observable"):
        Binning("rapidity", np.array([0.0, 1.0]))


def test_fast_term_matrix_agrees_with_the_reference_bilinear_forms():
    from smeftfm.physics.morphing import bilinear_terms
    from smeftfm.physics.operators import VECTOR_OPERATORS

    basis = AmplitudeBasis.build(DEFAULT_EW, VECTOR_OPERATORS)
    s = RNG.uniform(20.0, 3000.0, 300) ** 2
    w = RNG.uniform(-1.0, 1.0, (300, 8))
    for order in ("linear", "quadratic"):
        ref = bilinear_terms(*basis.parts(s), w, order)
        fast = basis.weighted_terms(s, w, order)
        np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())

import numpy as np
import pytest

from smeftfm.errors import SmeftfmError
from smeftfm.models.anomaly import (
    InjectionConfig,
    auroc,
    breit_wigner,
    injected_spectra,
    shifted_mass,
    stretched,
    tail_excess,
)

MLL = np.linspace(50, 650, 61)
PT = np.linspace(10, 330, 33)


def test_breit_wigner_normalisation():
    bw_m, bw_p = breit_wigner(MLL, PT, 500.0, 25.0, sigma_pb=2.0)
    assert (bw_m * np.diff(MLL)).sum() == pytest.approx(2.0, rel=1e-10)
    # p_T < 10 GeV (outside the histogram) carries 1 - sqrt(1 - (20/m)^2) ~ 1e-3 of the signal
    assert (bw_p * np.diff(PT)).sum() == pytest.approx(2.0, rel=2e-3)
    assert bw_m[44] == pytest.approx(bw_m[45]) and np.argmax(bw_m) in (44, 45)  # symmetric about 500
    assert PT[np.argmax(bw_p)] == pytest.approx(240.0)  # Jacobian peak just below M/2 = 250 GeV


def test_mass_shift_with_exact_density_matches_analytic():
    mu, s = 91.0, 4.0

    def dens(m):
        return np.exp(-0.5 * ((m - mu) / s) ** 2)

    from scipy.stats import norm

    edges = np.linspace(50, 150, 11)
    binned = np.diff(norm.cdf(edges, mu, s)) * s * np.sqrt(2 * np.pi) / np.diff(edges)
    out = shifted_mass(binned, edges, 3.0, dens)
    expect = np.diff(norm.cdf(edges, mu + 3.0, s)) * s * np.sqrt(2 * np.pi) / np.diff(edges)
    np.testing.assert_allclose(out, expect, atol=1e-10)


def test_injections_shapes_and_locality():
    y_sm = np.exp(-np.linspace(0, 8, 92))
    cfg = InjectionConfig(units="relative", tail_amplitude=1.0, bw_strength=2.0)
    inj = injected_spectra(y_sm, MLL, PT, cfg)
    assert set(inj) == {"tail", "zshift", "resonance", "combined"}
    d = inj["tail"] - y_sm
    assert np.all(d[:35] == 0) and d[59] == pytest.approx(y_sm[59] * cfg.tail_amplitude * 1.0, rel=0.05)
    res = inj["resonance"] - y_sm
    assert res[45] == pytest.approx(cfg.bw_strength * y_sm[45])
    np.testing.assert_allclose(inj["combined"] - y_sm,
                               sum(inj[k] - y_sm for k in ("tail", "zshift", "resonance")), atol=1e-15)
    assert tail_excess(np.ones(3), np.array([1.0, 2.0, 3.0]), 2.0, 1.0).tolist() == [1.0, 1.0, 2.0]
    # in units of sigma: the last m_ll bin rises by A sigma, the bin holding M by strength sigma
    sig = 0.1 * np.sqrt(y_sm)
    inj_s = injected_spectra(y_sm, MLL, PT, InjectionConfig(), sigma=sig)
    assert inj_s["tail"][59] - y_sm[59] == pytest.approx(5.0 * sig[59])
    assert inj_s["resonance"][45] - y_sm[45] == pytest.approx(5.0 * sig[45])
    with pytest.raises(SmeftfmError, match="sigma"):
        injected_spectra(y_sm, MLL, PT, InjectionConfig())
    # stretching by 1 is the identity
    np.testing.assert_allclose(stretched(y_sm[60:], PT, 1.0), y_sm[60:])


def test_auroc_extremes():
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0
    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 0.0

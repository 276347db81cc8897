"""The 2-D (m_ll, p_T) cross sections: sum rules against the 1-D templates and event-level counts (chi^2)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from smeftfm.data.events import get_sampler
from smeftfm.physics.joint import joint_templates
from smeftfm.physics.oracle import DEFAULT_BINNINGS, QuadratureSpec

SPEC = QuadratureSpec(8, 5.0, 12, 12, 6)
N_EV = 60_000


@pytest.fixture(scope="module")
def joint(oracle):
    return joint_templates(oracle, *DEFAULT_BINNINGS, "linear", SPEC)


def test_joint_sums_to_the_one_dimensional_templates(joint, templates):
    """Summing over p_T gives the m_ll templates, over m_ll the p_T templates, for every morphing term."""
    w = templates.widths
    mll, pt = templates.slice("mll"), templates.slice("pt")
    for t in range(joint.shape[0]):
        ref_m = templates.values[t, mll] * w[mll]
        ref_p = templates.values[t, pt] * w[pt]
        scale = np.abs(templates.values[t, mll] * w[mll]).max()
        np.testing.assert_allclose(joint[t].sum(1), ref_m, rtol=2e-3, atol=1e-4 * scale)
        np.testing.assert_allclose(joint[t].sum(0), ref_p, rtol=5e-3, atol=1e-3 * scale)
    assert np.all(joint[0] >= 0)
    # kinematics: p_T <= m/2, so m_ll bin [50, 60] never fills p_T bins above 30 GeV
    assert np.all(joint[0, 0, 3:] == 0) and joint[0, 0, 1] > 0


@pytest.mark.parametrize("coeffs", [np.zeros(3), np.array([0.05, -0.03, 0.02])])
def test_joint_matches_event_counts(oracle, joint, coeffs):
    """Events from the exact sampler, histogrammed in 2-D, agree with N sigma_ij / sigma (Pearson chi^2)."""
    m, _, c = get_sampler(oracle).sample(coeffs, N_EV, np.random.default_rng(11))
    pt = 0.5 * m * np.sqrt(1 - c * c)
    counts, _, _ = np.histogram2d(m, pt, [DEFAULT_BINNINGS[0].edges, DEFAULT_BINNINGS[1].edges])
    mono = np.concatenate([[1.0], coeffs])
    sig = np.einsum("t,tij->ij", mono, joint)
    expected = N_EV * sig / sig.sum()
    ok = expected >= 5
    chi2 = float(((counts[ok] - expected[ok]) ** 2 / expected[ok]).sum())
    ndf = int(ok.sum()) - 1
    assert stats.chi2.sf(chi2, ndf) > 1e-3, f"chi2/ndf = {chi2:.1f}/{ndf}"
    assert counts[~ok].sum() < 5 * max(expected[~ok].sum(), 1.0)


def test_event_counts_reject_a_wrong_cross_section(oracle, joint):
    """Power: pairing each m_ll bin with the p_T distribution of its neighbour is rejected by the same test."""
    m, _, c = get_sampler(oracle).sample(np.zeros(3), N_EV, np.random.default_rng(12))
    pt = 0.5 * m * np.sqrt(1 - c * c)
    counts, _, _ = np.histogram2d(m, pt, [DEFAULT_BINNINGS[0].edges, DEFAULT_BINNINGS[1].edges])
    wrong = joint[0] / joint[0].sum(1, keepdims=True)
    wrong = np.roll(wrong, 1, axis=0) * joint[0].sum(1, keepdims=True)
    expected = N_EV * wrong / wrong.sum()
    ok = expected >= 5
    chi2 = float(((counts[ok] - expected[ok]) ** 2 / expected[ok]).sum())
    assert stats.chi2.sf(chi2, int(ok.sum()) - 1) < 1e-6

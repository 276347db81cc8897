"""Couplings against the SMEFTsim 3.0 UFO itself: an independent evaluation of the same Lagrangian.

The reference numbers below were evaluated (outside this project, with a scratch script) from the UFO model
``SMEFTsim_U35_MwScheme_UFO`` of github.com/SMEFTsim/SMEFTsim (commit db7d4a8): all external parameters at their
card defaults except m_W = 80.387, m_Z = 91.1876 GeV, G_F = 1.1663787e-5 GeV^-2, Lambda = 1 TeV, one Wilson
coefficient at a time set to 1. For a vertex f f V the UFO coupling is i X (lorentz gamma^mu P_L/R), X being the
coefficient of V fbar gamma^mu P f in the Lagrangian, i.e. X = -g_V[f, chi] in our convention. Listed: g = -X for the
SM and the shift g(C=1) - g(0). Dipole (momentum-dependent) structures are not part of these numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from smeftfm.physics.amplitudes import couplings
from smeftfm.physics.constants import DEFAULT_EW

UFO_SM = {
    "a_mu_L": -3.0825331740e-01,
    "a_mu_R": -3.0825331740e-01,
    "Z_mu_L": -2.0527901271e-01,
    "Z_mu_R": 1.6507160596e-01,
    "a_u_L": 2.0550221160e-01,
    "a_u_R": 2.0550221160e-01,
    "Z_u_L": 2.6030288136e-01,
    "Z_u_R": -1.1004773730e-01,
    "a_d_L": -1.0275110580e-01,
    "a_d_R": -1.0275110580e-01,
    "Z_d_L": -3.1532675002e-01,
    "Z_d_R": 5.5023868652e-02,
}
UFO_SHIFT = {
    "cHl1": {"Z_mu_L": -2.2452179029e-02},
    "cHl3": {
        "a_mu_L": 1.8687585006e-02,
        "a_mu_R": 1.8687585006e-02,
        "Z_mu_L": -1.0007320260e-02,
        "Z_mu_R": -1.0007320260e-02,
        "a_u_L": -1.2458390004e-02,
        "a_u_R": -1.2458390004e-02,
        "Z_u_L": -1.5780632189e-02,
        "Z_u_R": 6.6715468400e-03,
        "a_d_L": 6.2291950021e-03,
        "a_d_R": 6.2291950021e-03,
        "Z_d_L": 1.9116405609e-02,
        "Z_d_R": -3.3357734200e-03,
    },
    "cHe": {"Z_mu_R": -2.2452179029e-02},
    "cHq1": {"Z_u_L": -2.2452179029e-02, "Z_d_L": -2.2452179029e-02},
    "cHq3": {"Z_u_L": 2.2452179029e-02, "Z_d_L": -2.2452179029e-02},
    "cHu": {"Z_u_R": -2.2452179029e-02},
    "cHd": {"Z_d_R": -2.2452179029e-02},
    "cHDD": {
        "a_mu_L": 1.6291608127e-02,
        "a_mu_R": 1.6291608127e-02,
        "Z_mu_L": -1.4337304207e-02,
        "Z_mu_R": -1.9950348964e-02,
        "a_u_L": -1.0861072085e-02,
        "a_u_R": -1.0861072085e-02,
        "Z_u_L": 7.6871878853e-03,
        "Z_u_R": 1.3300232642e-02,
        "a_d_L": 5.4305360423e-03,
        "a_d_R": 5.4305360423e-03,
        "Z_d_L": -1.0370715641e-03,
        "Z_d_R": -6.6501163212e-03,
    },
    "cHWB": {
        "a_mu_L": 3.4897037797e-02,
        "a_mu_R": 3.4897037797e-02,
        "Z_mu_L": -1.8687585006e-02,
        "Z_mu_R": -1.8687585006e-02,
        "a_u_L": -2.3264691865e-02,
        "a_u_R": -2.3264691865e-02,
        "Z_u_L": 1.2458390004e-02,
        "Z_u_R": 1.2458390004e-02,
        "a_d_L": 1.1632345932e-02,
        "a_d_R": 1.1632345932e-02,
        "Z_d_L": -6.2291950021e-03,
        "Z_d_R": -6.2291950021e-03,
    },
    "cll1": {
        "a_mu_L": -9.3437925031e-03,
        "a_mu_R": -9.3437925031e-03,
        "Z_mu_L": -6.2224293844e-03,
        "Z_mu_R": 5.0036601300e-03,
        "a_u_L": 6.2291950021e-03,
        "a_u_R": 6.2291950021e-03,
        "Z_u_L": 7.8903160944e-03,
        "Z_u_R": -3.3357734200e-03,
        "a_d_L": -3.1145975010e-03,
        "a_d_R": -3.1145975010e-03,
        "Z_d_L": -9.5582028044e-03,
        "Z_d_R": 1.6678867100e-03,
    },
    "cHW": {},
    "cHB": {},
}

_V = {"a": 0, "Z": 1}
_F = {"u": 0, "d": 1, "mu": 2}
_C = {"L": 0, "R": 1}
OPS = ["cHl1", "cHl3", "cHe", "cHq1", "cHq3", "cHu", "cHd", "cHDD", "cHWB", "cll1"]


def _index(key: str) -> tuple[int, int, int]:
    v, f, c = key.split("_")
    return _V[v], _F[f], _C[c]


def test_sm_couplings_match_the_ufo():
    cp = couplings(DEFAULT_EW, OPS)
    for key, val in UFO_SM.items():
        assert cp.g0[_index(key)] == pytest.approx(val, rel=1e-9), key


@pytest.mark.parametrize("op", OPS)
def test_coupling_shifts_match_the_ufo(op):
    cp = couplings(DEFAULT_EW, OPS)
    k = OPS.index(op)
    ours = {key: cp.dg[_index(key) + (k,)] for key in UFO_SM}
    for key, val in ours.items():
        ref = UFO_SHIFT[op].get(key, 0.0)
        assert val == pytest.approx(ref, rel=1e-8, abs=1e-14), (op, key)


def test_chw_and_chb_do_not_shift_the_neutral_currents_in_the_ufo_either():
    assert UFO_SHIFT["cHW"] == {} and UFO_SHIFT["cHB"] == {}
    # and the catalog rightly keeps them out of Table 1's list for this process
    from smeftfm.physics.operators import OPERATORS

    assert "cHW" not in OPERATORS and "cHB" not in OPERATORS
    assert np.isfinite(DEFAULT_EW.eps)


# Four-fermion vertices of the same UFO for u~ u mu+ mu- at C = 1: the coupling is +i C/Lambda^2 (the same
# "i x Lagrangian coefficient" convention as the vertices above, so the contact term adds to g_q g_mu/(s - m^2)
# with a plus sign), with chiralities (quark, lepton) and signs:
UFO_CONTACT_U = {"clq1": ("LL", +1), "clq3": ("LL", -1), "ceu": ("RR", +1), "cqe": ("LR", +1), "clu": ("RL", +1)}


@pytest.mark.parametrize("op", sorted(UFO_CONTACT_U))
def test_contact_terms_match_the_ufo(op):
    from smeftfm.physics.amplitudes import CHIRALITY_PAIRS

    cp = couplings(DEFAULT_EW, [op])
    pair, sign = UFO_CONTACT_U[op]
    expected = np.zeros(4)
    expected[CHIRALITY_PAIRS.index(pair)] = sign
    np.testing.assert_array_equal(cp.contact[0, :, 0], expected)

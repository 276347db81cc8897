r"""Helicity amplitudes of q qbar -> gamma*/Z -> mu- mu+ with dimension-6 insertions, linear in C.

Conventions (see ``docs/physics.md``; SMEFTsim 3.0 [arXiv:2012.11343, 1709.06492], Warsaw basis
[arXiv:1008.4884]): neutral currents L > -sum_{V=A,Z} V_mu fbar gamma^mu (g_V[f,L] P_L + g_V[f,R] P_R) f and
contact terms (1/Lambda^2) sum_ij C^q_ij (qbar gamma^mu P_i q)(mubar gamma_mu P_j mu). For each quark type
t in {u, d} and chirality pair (i, j) (quark, lepton) the reduced amplitude is

    F_ij(s) = sum_V g_V[q,i] g_V[mu,j] / (s - m_V^2 + i m_V Gamma_V) + C^q_ij / Lambda^2     [GeV^-2]

expanded to first order in the Wilson coefficients (one dimension-6 insertion per amplitude, as
SMEFTsim's NP <= 1): F = F0 + sum_k C_k F1_k. Helicity sums give |F_ij|^2 s^2 (1 + h_ij cos)^2 with
h = +1 for LL, RR and -1 for LR, RL, cos being the mu- angle to the quark direction.

Everything here depends on the partonic energy only; PDFs and angles enter in :mod:`.oracle`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnknownOperatorError
from .backend import NUMPY, Backend
from .constants import EWInputs
from .operators import VECTOR_OPERATORS, resolve

__all__ = ["AmplitudeBasis", "CHIRALITY_PAIRS", "Couplings", "HELICITY_SIGN", "QUARK_TYPES", "couplings",
           "propagators", "reduced_amplitude_at", "reduced_amplitudes"]

QUARK_TYPES: tuple[str, ...] = ("u", "d")
#: Chirality pairs (quark, lepton) and their helicity sign h_ij.
CHIRALITY_PAIRS: tuple[str, ...] = ("LL", "LR", "RL", "RR")
HELICITY_SIGN = np.array([+1.0, -1.0, -1.0, +1.0])

_T3 = {("u", "L"): 0.5, ("d", "L"): -0.5, ("mu", "L"): -0.5, ("u", "R"): 0.0, ("d", "R"): 0.0, ("mu", "R"): 0.0}
_Q = {"u": 2.0 / 3.0, "d": -1.0 / 3.0, "mu": -1.0}

#: Effective current coefficient C_Hf^eff[f, chirality] as {operator: sign}.
_CURRENT = {
    ("mu", "L"): {"cHl1": 1.0, "cHl3": 1.0},
    ("mu", "R"): {"cHe": 1.0},
    ("u", "L"): {"cHq1": 1.0, "cHq3": -1.0},
    ("u", "R"): {"cHu": 1.0},
    ("d", "L"): {"cHq1": 1.0, "cHq3": 1.0},
    ("d", "R"): {"cHd": 1.0},
}

#: Contact terms C^q_ij (U35: flavour universal) as {operator: sign} per quark type and chirality pair.
_CONTACT = {
    ("u", "LL"): {"clq1": 1.0, "clq3": -1.0},
    ("u", "LR"): {"cqe": 1.0},
    ("u", "RL"): {"clu": 1.0},
    ("u", "RR"): {"ceu": 1.0},
    ("d", "LL"): {"clq1": 1.0, "clq3": 1.0},
    ("d", "LR"): {"cqe": 1.0},
    ("d", "RL"): {"cld": 1.0},
    ("d", "RR"): {"ced": 1.0},
}


@dataclass(frozen=True)
class Couplings:
    """Neutral-current couplings g_V[f, chi] = g0 + sum_k C_k dg_k (dimensionless).

    ``g0[V, f, chi]`` and ``dg[V, f, chi, k]`` with V in (A, Z), f in (u, d, mu), chi in (L, R) and
    k running over ``operators``; ``contact[t, ij, k]`` is the coefficient of C_k in C^t_ij (so the
    contact amplitude is contact @ C / Lambda^2).
    """

    operators: tuple[str, ...]
    g0: np.ndarray
    dg: np.ndarray
    contact: np.ndarray


_FERMIONS = ("u", "d", "mu")
_CHIRALITIES = ("L", "R")


def couplings(ew: EWInputs, operators: tuple[str, ...] | list[str]) -> Couplings:
    """Build SM couplings and their linear SMEFT shifts in the m_W scheme.

    g_Z[f,chi] = g_Z { (T3 - s^2 Q)(1 - dG_F/2) - (eps/4) C_HD (T3 - (1 + c^2) Q) + s c eps Q C_HWB
                       - (eps/2) C_Hf^eff[f,chi] },
    g_A[f,chi] = e Q { 1 - dG_F/2 - c^2/(4 s^2) eps C_HD - (c/s) eps C_HWB },
    dG_F = eps (2 C_Hl3 - C_ll1), eps = v^2/Lambda^2 (Brivio-Trott, arXiv:1709.06492; SMEFTsim 3.0).
    C_HW and C_HB cancel exactly in these couplings.
    """
    ops = resolve(list(operators))
    unsupported = [o for o in ops if o not in VECTOR_OPERATORS]
    if unsupported:
        raise UnknownOperatorError(
            f"operator(s) {unsupported} have no chirality-conserving amplitude in this oracle "
            f"(they cannot interfere with the massless SM amplitude); use only {list(VECTOR_OPERATORS)}"
        )
    k_of = {o: k for k, o in enumerate(ops)}
    nk = len(ops)
    s, c, eps = ew.sw, ew.cw, ew.eps
    g0 = np.zeros((2, 3, 2))
    dg = np.zeros((2, 3, 2, nk))
    for fi, f in enumerate(_FERMIONS):
        for ci, chi in enumerate(_CHIRALITIES):
            t3, q = _T3[(f, chi)], _Q[f]
            zsm = t3 - ew.sw2 * q
            g0[0, fi, ci] = ew.e * q
            g0[1, fi, ci] = ew.g_z * zsm
            shifts_a: dict[str, float] = {
                "cHl3": -eps * ew.e * q,  # -dG_F/2 with dG_F = 2 eps C_Hl3
                "cll1": 0.5 * eps * ew.e * q,  # -dG_F/2 with dG_F = -eps C_ll1
                "cHDD": -(c**2 / (4 * ew.sw2)) * eps * ew.e * q,
                "cHWB": -(c / s) * eps * ew.e * q,
            }
            shifts_z: dict[str, float] = {
                "cHl3": -eps * ew.g_z * zsm,
                "cll1": 0.5 * eps * ew.g_z * zsm,
                "cHDD": -0.25 * eps * ew.g_z * (t3 - (1 + c**2) * q),
                "cHWB": s * c * eps * ew.g_z * q,
            }
            for op, sign in _CURRENT[(f, chi)].items():
                shifts_z[op] = shifts_z.get(op, 0.0) - 0.5 * eps * ew.g_z * sign
            for op, val in shifts_a.items():
                if op in k_of:
                    dg[0, fi, ci, k_of[op]] += val
            for op, val in shifts_z.items():
                if op in k_of:
                    dg[1, fi, ci, k_of[op]] += val
    contact = np.zeros((2, 4, nk))
    for ti, t in enumerate(QUARK_TYPES):
        for pi, pair in enumerate(CHIRALITY_PAIRS):
            for op, sign in _CONTACT[(t, pair)].items():
                if op in k_of:
                    contact[ti, pi, k_of[op]] = sign
    return Couplings(ops, g0, dg, contact)


def propagators(s: np.ndarray, ew: EWInputs) -> tuple[np.ndarray, np.ndarray]:
    """Photon 1/s and fixed-width Z Breit-Wigner 1/(s - m_Z^2 + i m_Z Gamma_Z), GeV^-2."""
    s = np.asarray(s, dtype=np.float64)
    return 1.0 / s, 1.0 / (s - ew.m_z**2 + 1j * ew.m_z * ew.gamma_z)


def reduced_amplitudes(s: np.ndarray, ew: EWInputs, cp: Couplings) -> tuple[np.ndarray, np.ndarray]:
    """SM amplitude F0[..., t, ij] and the per-operator pieces F1[..., t, ij, k] (complex, GeV^-2).

    ``s`` is the partonic energy squared (GeV^2), any shape; output shapes append (2, 4) and (2, 4, K).
    """
    pa, pz = propagators(s, ew)
    prop = np.stack([pa + 0j, pz], axis=-1)  # [..., V]
    f_idx = {"u": 0, "d": 1}
    mu = 2
    g0q = np.stack([cp.g0[:, f_idx[t], :] for t in QUARK_TYPES])  # [t, V, chi_q]
    dgq = np.stack([cp.dg[:, f_idx[t], :, :] for t in QUARK_TYPES])  # [t, V, chi_q, k]
    g0l = cp.g0[:, mu, :]  # [V, chi_l]
    dgl = cp.dg[:, mu, :, :]  # [V, chi_l, k]
    qi = np.array([0, 0, 1, 1])  # quark chirality of pair LL, LR, RL, RR
    li = np.array([0, 1, 0, 1])  # lepton chirality
    # couplings products per (t, V, pair)
    c0 = g0q[:, :, qi] * g0l[None, :, li]  # [t, V, p]
    c1 = dgq[:, :, qi, :] * g0l[None, :, li, None] + g0q[:, :, qi, None] * dgl[None, :, li, :]  # [t,V,p,k]
    f0 = np.einsum("...v,tvp->...tp", prop, c0)
    f1 = np.einsum("...v,tvpk->...tpk", prop, c1) + cp.contact / ew.lambda_np**2
    return f0, f1


@dataclass(frozen=True)
class AmplitudeBasis:
    """Real coupling products that turn propagators into F0 and F1, flattened over A = (quark type, pair).

    F0_A = sum_V P_V c0[V, A]; F1_Ak = sum_V P_V c1[V, A, k] + contact[A, k] / Lambda^2. All entries are real,
    so real and imaginary parts follow from Re P_V and Im P_V alone (numpy or torch alike).
    """

    operators: tuple[str, ...]
    c0: np.ndarray  # [2 (A, Z), 8]
    c1: np.ndarray  # [2, 8, K]
    contact: np.ndarray  # [8, K], GeV^-2 (already divided by Lambda^2)
    helicity: np.ndarray  # [8] = h_ij for each A
    m_z: float
    gamma_z: float

    @classmethod
    def build(cls, ew: EWInputs, operators: tuple[str, ...] | list[str]) -> AmplitudeBasis:
        cp = couplings(ew, operators)
        qi = np.array([0, 0, 1, 1])
        li = np.array([0, 1, 0, 1])
        c0 = np.concatenate([cp.g0[:, ti, qi] * cp.g0[:, 2, li] for ti in range(2)], axis=1)
        c1 = np.concatenate(
            [
                cp.dg[:, ti, qi, :] * cp.g0[:, 2, li, None] + cp.g0[:, ti, qi, None] * cp.dg[:, 2, li, :]
                for ti in range(2)
            ],
            axis=1,
        )
        contact = cp.contact.reshape(8, -1) / ew.lambda_np**2
        return cls(cp.operators, c0, c1, contact, np.tile(HELICITY_SIGN, 2), ew.m_z, ew.gamma_z)

    def propagators(self, s):
        """(P_A, Re P_Z, Im P_Z) at partonic s (GeV^2): 1/s and 1/(s - m_Z^2 + i m_Z Gamma_Z), in GeV^-2."""
        mz2, mg = self.m_z**2, self.m_z * self.gamma_z
        den = (s - mz2) ** 2 + mg**2
        return 1.0 / s, (s - mz2) / den, -mg / den

    def parts(self, s, be: Backend = NUMPY):
        """(Re F0, Im F0, Re F1, Im F1) at partonic s (GeV^2), shapes [..., 8] and [..., 8, K]."""
        pa, pz_re, pz_im = self.propagators(s)
        c0, c1, ct = (be.astensor(a, like=s) for a in (self.c0, self.c1, self.contact))
        re0 = pa[..., None] * c0[0] + pz_re[..., None] * c0[1]
        im0 = pz_im[..., None] * c0[1]
        re1 = pa[..., None, None] * c1[0] + pz_re[..., None, None] * c1[1] + ct
        im1 = pz_im[..., None, None] * c1[1]
        return re0, im0, re1, im1


    # ---- fast path: every morphing term is a fixed linear combination of 7 propagator products per channel
    #: names of the propagator products b_q(s) spanning |F|^2 (P_A = 1/s, P_Z = pz_re + i pz_im)
    PROPAGATOR_PRODUCTS = ("pa^2", "pa*pz_re", "pz_re^2", "pz_im^2", "pa", "pz_re", "1")

    def propagator_products(self, s, be: Backend = NUMPY):
        """b_q(s) for q in :attr:`PROPAGATOR_PRODUCTS`, shape [..., 7] (GeV^-4, GeV^-2 or 1)."""
        pa, pzr, pzi = self.propagators(s)
        one = pa * 0 + 1.0
        return be.stack([pa * pa, pa * pzr, pzr * pzr, pzi * pzi, pa, pzr, one], -1)

    def term_matrix(self, order: str) -> np.ndarray:
        """G[(A, q), term] such that sum_A w_A |F_A(C)|^2 = sum_{A,q} w_A b_q(s) G[(A,q), :] @ monomials(C).

        Built once from the coupling products; evaluating all morphing terms at n events is then one
        [n, 56] x [56, n_terms] matrix product (numpy or torch) instead of per-event bilinear forms.
        """
        c0a, c0z = self.c0[0], self.c0[1]  # [A]
        c1a, c1z, ct = self.c1[0], self.c1[1], self.contact  # [A, K]
        zero = np.zeros_like(c0a)
        sm = np.stack([c0a**2, 2 * c0a * c0z, c0z**2, c0z**2, zero, zero, zero], -1)[..., None]  # [A, 7, 1]
        lin = 2.0 * np.stack(
            [
                c0a[:, None] * c1a,
                c0a[:, None] * c1z + c0z[:, None] * c1a,
                c0z[:, None] * c1z,
                c0z[:, None] * c1z,
                c0a[:, None] * ct,
                c0z[:, None] * ct,
                np.zeros_like(ct),
            ],
            1,
        )  # [A, 7, K]
        blocks = [sm, lin]
        if order == "quadratic":
            ia, ib = np.triu_indices(c1a.shape[1])
            f = 2.0 - (ia == ib)

            def sym(x, y):
                return x[:, ia] * y[:, ib] + y[:, ia] * x[:, ib]

            quad = np.stack(
                [
                    c1a[:, ia] * c1a[:, ib],
                    sym(c1a, c1z),
                    c1z[:, ia] * c1z[:, ib],
                    c1z[:, ia] * c1z[:, ib],
                    sym(c1a, ct),
                    sym(c1z, ct),
                    ct[:, ia] * ct[:, ib],
                ],
                1,
            ) * f  # [A, 7, P]
            blocks.append(quad)
        elif order != "linear":
            raise ValueError(f"order must be 'linear' or 'quadratic', got {order!r}")
        g = np.concatenate(blocks, axis=-1)
        return g.reshape(-1, g.shape[-1])

    def weighted_terms(self, s, weights, order: str, be: Backend = NUMPY, g=None):
        """sum_A w_A |F_A|^2 expanded in morphing terms at partonic s: [..., n_terms] (GeV^-4 x weight units)."""
        b = self.propagator_products(s, be)  # [..., 7]
        x = (weights[..., :, None] * b[..., None, :]).reshape(*weights.shape[:-1], -1)  # [..., 56]
        g = self.term_matrix(order) if g is None else g
        return x @ be.astensor(g, like=x)


def reduced_amplitude_at(s: np.ndarray, ew: EWInputs, cp: Couplings, coeffs: np.ndarray) -> np.ndarray:
    """F(C) evaluated directly at one coefficient point (shape [..., t, ij]), independently of the morphing.

    The couplings are first shifted to g(C) = g0 + dg @ C; the product g_q(C) g_mu(C) is then truncated at one
    insertion by removing (dg_q @ C)(dg_mu @ C), and the contact term C^q_ij / Lambda^2 is added.
    """
    cvec = np.asarray(coeffs, dtype=np.float64)
    pa, pz = propagators(s, ew)
    prop = np.stack([pa + 0j, pz], axis=-1)
    shift = cp.dg @ cvec  # [V, f, chi]
    g = cp.g0 + shift
    qi = np.array([0, 0, 1, 1])
    li = np.array([0, 1, 0, 1])
    out = []
    for ti in range(len(QUARK_TYPES)):
        prod = g[:, ti, qi] * g[:, 2, li] - shift[:, ti, qi] * shift[:, 2, li]  # [V, p]
        out.append(np.einsum("...v,vp->...p", prop, prod) + (cp.contact[ti] @ cvec) / ew.lambda_np**2)
    return np.stack(out, axis=-2)

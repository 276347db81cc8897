r"""Exact-quadrature binned integrators of dsigma/dX for X = y_ll and cos theta_CS (pb per bin, per morphing term).

Both integrate the fully differential LO rate over (m_ll, y_ll, cos theta*) with every boundary placed
exactly: the mass window, the kinematic limit |y| < ln(sqrt S / m), the muon cuts |y| + atanh|cos*| < eta_max
and |cos*| < sqrt(1 - (2 p_T,min / m)^2), and the bin edges (cos* is the mu- angle to the +z beam, cos theta_CS =
sign(y) cos*, see :mod:`.kinematics`). Without lepton cuts (eta_max = inf, p_T,min = 0) the same formulas hold.

* y_ll: at fixed (m, y) the allowed cos* range is symmetric, [-C, C], so the angular integral is analytic:
  int (L+Lbar)(1 + c^2) + h (L-Lbar) 2c dc = (L+Lbar) (2C + 2C^3/3). Gauss-Legendre in y on each bin with breaks
  where C(m, y) changes form; composite GL in m as for the m_ll templates.
* cos theta_CS: GL in cos_CS on each bin with breaks at 0 and where the y limit changes form, GL in y on
  [-Y, 0] and [0, Y] separately (cos* = sign(y) cos_CS flips at y = 0); the rate is evaluated at +-y directly, so
  the pp symmetry y -> -y is not assumed.

The functions take an :class:`~smeftfm.physics.oracle.Oracle` and return ``[n_terms, n_bins]`` in pb per bin.
"""

from __future__ import annotations

import numpy as np

from .quadrature import segments_nodes

__all__ = ["cos_cs_bins", "mass_nodes_with_kinks", "rapidity_bins"]


def _cos_pt(acc, m: np.ndarray) -> np.ndarray:
    """|cos*| allowed by p_T > p_T,min at mass m."""
    return np.sqrt(np.clip(1.0 - (2.0 * acc.pt_min / m) ** 2, 0.0, 1.0))


def mass_nodes_with_kinks(oracle, spec, extra_kinks: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Composite GL mass nodes over the window, split at masses where a limit of the inner integrals changes form.

    ``extra_kinks`` are masses in GeV (e.g. m = sqrt S exp(-|y_edge|), where the kinematic y limit crosses a
    bin edge); kinks outside the window are ignored.
    """
    acc = oracle.acceptance
    pts = sorted({acc.m_lo, acc.m_hi, *(k for k in extra_kinks if acc.m_lo < k < acc.m_hi)})
    nodes = [oracle._mass_nodes(a, b, spec) for a, b in zip(pts[:-1], pts[1:]) if b > a]
    return np.concatenate([n for n, _ in nodes]), np.concatenate([w for _, w in nodes])


def _kinematic_kinks(oracle, ys: np.ndarray) -> list[float]:
    """Masses where ln(sqrt S / m) equals one of the |y| values (and eta_max)."""
    acc, sqrt_s = oracle.acceptance, oracle.ew.sqrt_s
    vals = [abs(float(v)) for v in ys] + ([acc.eta_max] if np.isfinite(acc.eta_max) else [])
    return [sqrt_s * float(np.exp(-v)) for v in vals]


def _angular_integral(oracle, lsum, ldiff, lo, hi, sign) -> np.ndarray:
    """int_lo^hi dc [(L+Lbar)(1 + c^2) + h (L-Lbar) 2 (sign c)] per channel, [..., 8].

    c is cos theta_CS and ``sign`` = sign(y), so cos* = sign c (the angular weights of :meth:`Oracle._angular_weights`
    integrated analytically; both are polynomials in c).
    """
    p1 = (hi - lo) + (hi**3 - lo**3) / 3.0
    p2 = (hi * hi - lo * lo) * sign
    ls = np.repeat(lsum, 4, axis=-1)
    ld = np.repeat(ldiff, 4, axis=-1)
    return ls * p1[..., None] + oracle.basis.helicity * ld * p2[..., None]


def _limits(oracle, m: np.ndarray):
    """Per mass node: ylim (|y| < ylim), cpt (|cos*| < cpt from p_T) and yk (|y| where tanh(eta - |y|) = cpt)."""
    acc = oracle.acceptance
    ylim = np.minimum(acc.eta_max, np.log(oracle.ew.sqrt_s / m))
    cpt = _cos_pt(acc, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        yk = np.where(cpt < 1.0, acc.eta_max - np.arctanh(cpt), ylim)
    return ylim, cpt, np.clip(np.nan_to_num(yk, nan=np.inf), 0.0, ylim)


def _cos_limit(oracle, y: np.ndarray, cpt: np.ndarray) -> np.ndarray:
    """Largest |cos*| at (m, y): min(tanh(eta_max - |y|), cpt(m)), clipped to [0, 1]; y [N, K], cpt [N]."""
    with np.errstate(invalid="ignore"):
        c = np.minimum(np.tanh(oracle.acceptance.eta_max - np.abs(y)), cpt[:, None])
    return np.clip(np.nan_to_num(c), 0.0, 1.0)


def _y_at_cos(oracle, c: float, ylim: np.ndarray) -> np.ndarray:
    """|y| where tanh(eta_max - |y|) = |c| (a kink of the cos integration limit), clipped to [0, ylim]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = oracle.acceptance.eta_max - np.arctanh(min(abs(c), 1.0))
    v = np.nan_to_num(np.full_like(ylim, v), nan=np.inf, posinf=np.inf, neginf=-np.inf)
    return np.clip(v, 0.0, ylim)


def _integrate_my(oracle, m, wm, y_points, cos_range, order, spec) -> np.ndarray:
    """sum over mass and rapidity nodes of the analytic cos integral; y_points [N, P] sorted break points."""
    y, wy = segments_nodes(y_points, spec.rapidity_nodes)  # [N, K]
    mm = np.broadcast_to(m[:, None], y.shape)
    lsum, ldiff = oracle.luminosities(mm, y)  # [N, K, 2]
    lo, hi = cos_range(y)
    sign = np.where(y >= 0, 1.0, -1.0)
    ang = _angular_integral(oracle, lsum, ldiff, lo, np.maximum(lo, hi), sign)
    wang = np.einsum("nka,nk->na", ang, wy)
    return oracle._terms_at_nodes(m, wm, wang, order).sum(0)


def rapidity_bins(oracle, binning, order, spec) -> np.ndarray:
    """sigma per y_ll bin (pb) for every morphing term, [n_terms, n_bins]."""
    m, wm = mass_nodes_with_kinks(oracle, spec, _kinematic_kinks(oracle, binning.edges))
    ylim, cpt, yk = _limits(oracle, m)

    def cos_range(y):
        c = _cos_limit(oracle, y, cpt)
        return -c, c

    out = []
    for lo, hi in zip(binning.edges[:-1], binning.edges[1:]):
        a = np.maximum(lo, -ylim)
        b = np.maximum(a, np.minimum(hi, ylim))
        cand = np.stack([a, b, -yk, np.zeros_like(a), yk], axis=1)
        pts = np.sort(np.clip(cand, a[:, None], b[:, None]), axis=1)
        out.append(_integrate_my(oracle, m, wm, pts, cos_range, order, spec))
    return np.array(out).T


def cos_cs_bins(oracle, binning, order, spec) -> np.ndarray:
    """sigma per cos theta_CS bin (pb) for every morphing term, [n_terms, n_bins]."""
    m, wm = mass_nodes_with_kinks(oracle, spec, _kinematic_kinks(oracle, np.array([])))
    ylim, cpt, yk = _limits(oracle, m)
    out = []
    for lo, hi in zip(binning.edges[:-1], binning.edges[1:]):
        ya, yb = _y_at_cos(oracle, lo, ylim), _y_at_cos(oracle, hi, ylim)
        cand = np.stack([-ylim, ylim, -yk, yk, np.zeros_like(ylim), -ya, ya, -yb, yb], axis=1)
        pts = np.sort(np.clip(cand, -ylim[:, None], ylim[:, None]), axis=1)

        def cos_range(y, lo=lo, hi=hi):
            c = _cos_limit(oracle, y, cpt)
            return np.maximum(lo, -c), np.minimum(hi, c)

        out.append(_integrate_my(oracle, m, wm, pts, cos_range, order, spec))
    return np.array(out).T

r"""Exact two-dimensional (m_ll, p_T) cross sections: the overlap of the two histograms filled by one event sample.

At LO the dilepton pair has no transverse momentum, so each muon has p_T = (m/2) sin theta* and an event in
m_ll bin i and p_T bin j is one with m in bin i and |cos theta*| in

    [c(p_hi,j; m), c(p_lo,j; m)],   c(p; m) = sqrt(1 - (2p/m)^2)   (0 when 2p >= m),

intersected with the acceptance (|cos theta*| <= c_max(m) from the muon p_T cut and eta_max; the rapidity range
y_max(m, cos) from |eta| < eta_max). :func:`joint_templates` integrates the oracle's fully differential rate over
these regions with the oracle's own building blocks (composite Gauss-Legendre in m, Gauss-Legendre in cos on
each sub-interval, split at the kink of y_max, Gauss-Legendre in y) and returns sigma_{i cap j} in pb per
morphing term.

Sum rules (tested): summing over the p_T bins gives the m_ll templates (times bin widths), summing over the
m_ll bins gives the p_T templates, when the p_T binning covers [pt_min, m_hi/2].

For a Poisson event sample at luminosity L the bin counts obey Cov(n_i^mll, n_j^pT) = L sigma_{i cap j}
(each event enters one bin of each histogram); this is the cross-covariance the corpus uses.
"""

from __future__ import annotations

import numpy as np

from ..errors import SmeftfmError
from .morphing import Order, term_names
from .oracle import Binning, Oracle, QuadratureSpec, _gl

__all__ = ["joint_from_params", "joint_templates"]


def _cos_of_pt(pt: np.ndarray, m: np.ndarray) -> np.ndarray:
    """|cos theta*| at which a muon of transverse momentum pt (GeV) sits in a pair of mass m (GeV)."""
    return np.sqrt(np.clip(1.0 - (2.0 * pt / m) ** 2, 0.0, 1.0))


def _cos_segments(oracle: Oracle, m: np.ndarray, pt_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments [a, b] of |cos| per (mass node, p_T bin, piece), shape [N, n_pt, 2]; empty pieces have a = b.

    Piece 0 lies below the y_max kink, piece 1 above it, so y_max is smooth on each piece.
    """
    acc = oracle.acceptance
    cmax = acc.cos_max(m)[:, None]
    ymax_kin = np.log(oracle.ew.sqrt_s / m)
    kink = np.where(acc.eta_max > ymax_kin, np.tanh(np.clip(acc.eta_max - ymax_kin, 0.0, None)), 1.0)[:, None]
    lo = np.minimum(_cos_of_pt(pt_edges[None, 1:], m[:, None]), cmax)  # high p_T edge -> small |cos|
    hi = np.minimum(_cos_of_pt(pt_edges[None, :-1], m[:, None]), cmax)
    a0, b0 = lo, np.maximum(lo, np.minimum(hi, kink))
    a1, b1 = np.maximum(lo, np.minimum(hi, kink)), hi
    return np.stack([a0, a1], -1), np.stack([b0, b1], -1)


def joint_templates(oracle: Oracle, mll: Binning, pt: Binning, order: Order = "linear",
                    spec: QuadratureSpec = QuadratureSpec(), chunk: int = 4096) -> np.ndarray:
    """sigma_{i cap j} in pb per morphing term: shape [n_terms, mll.n, pt.n], in the acceptance.

    ``mll`` must be an m_ll binning and ``pt`` a muon-p_T binning (GeV). The mass nodes are those of the m_ll
    templates; each non-empty |cos| piece gets ``max(6, angle_nodes // 3)`` Gauss-Legendre nodes (the pieces are
    short: a p_T bin maps onto a narrow |cos| range), y gets ``rapidity_nodes``.
    """
    if mll.observable != "mll" or pt.observable != "pt":
        raise SmeftfmError(f"joint_templates needs an m_ll and a p_T binning, got {mll.observable}, {pt.observable}")
    acc = oracle.acceptance
    n_terms = len(term_names(oracle.operators, order))
    ms, ws, bins = [], [], []
    for i, (lo, hi) in enumerate(zip(mll.edges[:-1], mll.edges[1:])):
        a_m, b_m = max(lo, acc.m_lo), min(hi, acc.m_hi)
        if b_m > a_m:
            m, wm = oracle._mass_nodes(a_m, b_m, spec)
            ms.append(m)
            ws.append(wm)
            bins.append(np.full(m.size, i))
    out = np.zeros((mll.n * pt.n, n_terms))
    if not ms:
        return out.T.reshape(n_terms, mll.n, pt.n)
    m_all, wm_all, bin_all = np.concatenate(ms), np.concatenate(ws), np.concatenate(bins)
    a, b = _cos_segments(oracle, m_all, pt.edges)  # [N, n_pt, 2]
    node, jpt, _ = np.nonzero(b > a)
    a, b = a[b > a], b[b > a]  # [K] non-empty pieces, in the order of (node, jpt, piece)
    xc, wc = _gl(max(6, spec.angle_nodes // 3))
    xy, wy = _gl(spec.rapidity_nodes)
    for s0 in range(0, node.size, chunk):
        sl = slice(s0, s0 + chunk)
        m = m_all[node[sl]]
        half = 0.5 * (b[sl] - a[sl])
        cos = a[sl, None] + half[:, None] * (xc + 1.0)  # [K, Nc]
        ymax = acc.y_max(m[:, None], cos, oracle.ew.sqrt_s)
        y = ymax[..., None] * xy  # [K, Nc, Ny]
        w = (half[:, None] * wc * ymax)[..., None] * wy
        wang = oracle._node_weights(m, cos, y, w)  # [K, 8], the mirror node -cos included
        terms = oracle._terms_at_nodes(m, wm_all[node[sl]], wang, order)  # [K, n_terms], pb
        np.add.at(out, bin_all[node[sl]] * pt.n + jpt[sl], terms)
    return out.T.reshape(n_terms, mll.n, pt.n)


def joint_from_params(params, operators: tuple[str, ...], order: Order | None = None) -> np.ndarray:
    """:func:`joint_templates` for the params' oracle, binnings and quadrature (pb, [terms, n_mll, n_pt])."""
    from .oracle import binnings_from_params, oracle_from_params, quadrature_from_params

    oracle = oracle_from_params(params, operators)
    b = {x.observable: x for x in binnings_from_params(params)}
    if "mll" not in b or "pt" not in b:
        raise SmeftfmError(f"the 2-D templates need the m_ll and p_T histograms; observables has {sorted(b)}")
    return joint_templates(oracle, b["mll"], b["pt"], order or params.physics.order, quadrature_from_params(params))

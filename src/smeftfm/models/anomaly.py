"""Injected anomalies of the seed paper's Fig. 9, added to SM replicas, and their AUROC.

Each signal is a deterministic deformation ``delta = y_inj - y_SM`` of the SM spectrum (pb/GeV, 92 bins:
m_ll then p_T(mu-)); it is added to SM replicas drawn with the corpus uncertainty model, so the anomalous
samples carry exactly the SM fluctuations.

Sizes are in units of the SM per-bin standard deviation ``sigma_i`` (``units="sigma"``, the default: a signal
of fixed local significance whatever the luminosity) or relative to the SM bin content (``units="relative"``).

* ``tail``: unphysical excess in both tails, ``delta_i = A t_i^2 sigma_i`` (or ``A t_i^2 y_i``) with
  ``t = (x - x0) / (x_max - x0)`` above ``x0`` = 400 GeV in m_ll and 200 GeV in p_T (``x`` the bin centre).
* ``zshift``: the Z peak moved by ``delta_m`` GeV. In m_ll the bin contents become
  ``int_bin f(m - delta_m) dm / width`` using the exact SM density ``f = dsigma/dm`` (a callable, e.g. the
  oracle's; without one a piecewise-linear cumulative of the binned spectrum is used); in p_T the Jacobian
  peak moves with it: ``p_T -> p_T (1 + delta_m / m_Z)`` on the piecewise-linear cumulative.
* ``resonance``: a Breit-Wigner of mass M and width Gamma normalised so that the m_ll bin holding M rises by
  ``strength`` sigma (or ``strength`` times its SM content); its p_T(mu) spectrum is that of an isotropic
  two-body decay at rest, ``F(p_T | m) = 1 - sqrt(1 - (2 p_T / m)^2)``, averaged over the line shape
  (acceptance not applied: a mock signal).
* ``combined``: the sum of the three deformations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import SmeftfmError
from ..physics.constants import DEFAULT_EW

__all__ = ["SIGNALS", "InjectionConfig", "auroc", "breit_wigner", "injected_spectra", "shifted_mass", "stretched",
           "tail_excess"]

SIGNALS = ("tail", "zshift", "resonance", "combined")


@dataclass(frozen=True)
class InjectionConfig:
    """Signal sizes: ``tail_amplitude`` (excess at the last bin), ``z_shift_gev`` (GeV),
    ``bw_mass_gev``/``bw_width_gev`` (GeV), ``bw_strength`` (signal in the bin holding M), both in units of
    the SM per-bin sigma (``units="sigma"``) or of the SM bin content (``units="relative"``);
    ``mll_tail_gev``/``pt_tail_gev`` (GeV, where the tail excess starts)."""

    units: str = "sigma"
    tail_amplitude: float = 5.0
    mll_tail_gev: float = 400.0
    pt_tail_gev: float = 200.0
    z_shift_gev: float = 2.0
    bw_mass_gev: float = 500.0
    bw_width_gev: float = 25.0
    bw_strength: float = 5.0


def _cdf_linear(edges: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cumulative sigma (pb) of a binned density at points ``x`` (flat inside bins, constant outside)."""
    cum = np.concatenate([[0.0], np.cumsum(y * np.diff(edges))])
    return np.interp(x, edges, cum)


def tail_excess(y: np.ndarray, centers: np.ndarray, x0: float, amplitude: float,
                scale: np.ndarray | None = None) -> np.ndarray:
    """``y + A ((x - x0)/(x_max - x0))^2 * scale`` above ``x0`` (``scale`` defaults to ``y``); unchanged below."""
    xmax = centers.max()
    t = np.clip((centers - x0) / max(xmax - x0, 1e-9), 0.0, None)
    return y + amplitude * t ** 2 * (y if scale is None else scale)


def shifted_mass(y: np.ndarray, edges: np.ndarray, delta: float,
                 density: Callable[[np.ndarray], np.ndarray] | None = None, n_nodes: int = 16) -> np.ndarray:
    """m_ll bin contents (pb/GeV) after moving the spectrum by ``delta`` GeV: ``int_bin f(m - delta) / width``.

    With ``density`` (dsigma/dm in pb/GeV at masses in GeV) the cumulative at ``edge - delta`` is the binned
    cumulative minus a Gauss-Legendre integral of ``density`` over ``[edge - delta, edge]``.
    """
    widths = np.diff(edges)
    cum = np.concatenate([[0.0], np.cumsum(y * widths)])
    if density is None:
        shifted = _cdf_linear(edges, y, edges - delta)
    else:
        x, w = np.polynomial.legendre.leggauss(n_nodes)
        a, b = edges - delta, edges
        m = 0.5 * (b - a)[:, None] * x[None, :] + 0.5 * (a + b)[:, None]
        lo, hi = edges[0], edges[-1]
        inside = (m >= lo) & (m <= hi)  # the window: no events outside
        f = np.where(inside, np.asarray(density(np.clip(m, lo, hi).ravel())).reshape(m.shape), 0.0)
        shifted = cum - 0.5 * (b - a) * (f @ w)
    return np.diff(shifted) / widths


def stretched(y: np.ndarray, edges: np.ndarray, factor: float) -> np.ndarray:
    """Bin contents (pb/GeV) of the spectrum with ``x -> x * factor`` (piecewise-linear cumulative)."""
    cum = _cdf_linear(edges, y, edges / factor)
    return np.diff(cum) / np.diff(edges)


def breit_wigner(mll_edges: np.ndarray, pt_edges: np.ndarray, mass: float, width: float,
                 sigma_pb: float, n_nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(m_ll, p_T) spectra in pb/GeV of a Breit-Wigner resonance with cross section ``sigma_pb`` in the window."""
    lo, hi = mll_edges[0], mll_edges[-1]
    gam = 0.5 * width

    def cdf(m):
        return np.arctan((m - mass) / gam) / np.pi

    norm = cdf(hi) - cdf(lo)
    mll = sigma_pb * np.diff(cdf(mll_edges)) / norm / np.diff(mll_edges)
    # line shape nodes (uniform in the arctan variable: exact sampling of the Cauchy CDF)
    u = (np.arange(n_nodes) + 0.5) / n_nodes
    m = mass + gam * np.tan(np.pi * (cdf(lo) + u * norm))
    r = np.clip(2.0 * pt_edges[None, :] / m[:, None], 0.0, 1.0)
    fpt = 1.0 - np.sqrt(1.0 - r ** 2)
    pt = sigma_pb * np.diff(fpt, axis=1).mean(0) / np.diff(pt_edges)
    return mll, pt


def injected_spectra(y_sm: np.ndarray, mll_edges: np.ndarray, pt_edges: np.ndarray, cfg: InjectionConfig,
                     density: Callable[[np.ndarray], np.ndarray] | None = None,
                     sigma: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The four anomalous mean spectra ``{signal: y [92]}`` (pb/GeV) built on the SM spectrum.

    ``sigma`` is the SM per-bin standard deviation (pb/GeV), required for ``cfg.units == "sigma"``.
    """
    n_m, n_p = len(mll_edges) - 1, len(pt_edges) - 1
    y_sm = np.asarray(y_sm, dtype=np.float64)
    if y_sm.shape != (n_m + n_p,):
        raise SmeftfmError(f"SM spectrum must have {n_m + n_p} bins, got {y_sm.shape}")
    if cfg.units not in ("sigma", "relative"):
        raise SmeftfmError(f"signal units must be 'sigma' or 'relative', got '{cfg.units}'")
    if cfg.units == "sigma":
        if sigma is None or np.shape(sigma) != y_sm.shape:
            raise SmeftfmError("signals in units of sigma need the SM per-bin standard deviation (92 values)")
        scale = np.asarray(sigma, dtype=np.float64)
    else:
        scale = y_sm
    m_sl, p_sl = slice(0, n_m), slice(n_m, n_m + n_p)
    mc = 0.5 * (mll_edges[1:] + mll_edges[:-1])
    pc = 0.5 * (pt_edges[1:] + pt_edges[:-1])
    deltas: dict[str, np.ndarray] = {}
    tail = y_sm.copy()
    tail[m_sl] = tail_excess(y_sm[m_sl], mc, cfg.mll_tail_gev, cfg.tail_amplitude, scale[m_sl])
    tail[p_sl] = tail_excess(y_sm[p_sl], pc, cfg.pt_tail_gev, cfg.tail_amplitude, scale[p_sl])
    deltas["tail"] = tail - y_sm
    z = y_sm.copy()
    z[m_sl] = shifted_mass(y_sm[m_sl], mll_edges, cfg.z_shift_gev, density)
    z[p_sl] = stretched(y_sm[p_sl], pt_edges, 1.0 + cfg.z_shift_gev / DEFAULT_EW.m_z)
    deltas["zshift"] = z - y_sm
    ib = int(np.clip(np.searchsorted(mll_edges, cfg.bw_mass_gev, side="right") - 1, 0, n_m - 1))
    # unit cross section, then scaled so that the bin holding M rises by strength x scale (pb/GeV)
    bw_m, bw_p = breit_wigner(mll_edges, pt_edges, cfg.bw_mass_gev, cfg.bw_width_gev, 1.0)
    total = cfg.bw_strength * scale[ib] / bw_m[ib]
    deltas["resonance"] = np.concatenate([bw_m, bw_p]) * total
    deltas["combined"] = deltas["tail"] + deltas["zshift"] + deltas["resonance"]
    return {k: y_sm + deltas[k] for k in SIGNALS}


def auroc(score_anomalous: np.ndarray, score_normal: np.ndarray) -> float:
    """Area under the ROC curve with the anomalies as the positive class (0.5 = no separation)."""
    s = np.concatenate([score_anomalous, score_normal])
    lab = np.concatenate([np.ones(len(score_anomalous)), np.zeros(len(score_normal))])
    if len(score_anomalous) == 0 or len(score_normal) == 0:
        raise SmeftfmError("AUROC needs both anomalous and in-distribution samples")
    return float(roc_auc_score(lab, s))

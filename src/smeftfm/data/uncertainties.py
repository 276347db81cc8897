r"""Correlated Poisson-calibrated uncertainties of binned spectra (seed paper, eqs. 3.4-3.18).

Units: y in pb/GeV, bin widths and centres in GeV, luminosity in pb^-1, covariance in pb^2/GeV^2.

* Effective luminosity from a target event count N (eq. 3.10): Delta sigma_tot = sigma_tot / sqrt(N), so
  L_eff = sigma_tot / Delta sigma_tot^2 = N / sigma_tot, sigma_tot being the SM cross section in the acceptance.
* Per-bin Poisson variance (eq. 3.8): Var[y_i] = y_i / (L Delta X_i); bins with y_i <= 0 (linear truncation or an
  empty bin) have no expected events and get zero variance.
* RBF correlation within each observable (eq. 3.14): K_ij = exp(-(x_i - x_j)^2 / (2 l^2)), l = 35 GeV; the
  m_ll and p_T histograms are *separate blocks* (no correlation between them, see ``docs/data.md``).
* Sigma = alpha_b D K D per block b, with alpha_b chosen so that Delta X_b^T Sigma_b Delta X_b equals the Poisson
  variance of the block's integral, sum_{i in b} y_i Delta X_i / L (eqs. 3.16-3.17). For the SM this is
  sigma_tot / L_eff = Delta sigma_tot^2, the paper's calibration, for each of the two views of the events.
* Luminosity rescaling (eq. 3.13): with L_desired, every uncertainty is multiplied by m = sqrt(L_eff / L_desired),
  i.e. Sigma -> m^2 Sigma, which is the same as using L = L_desired above.
* Replicas ~ N(y, Sigma) (eq. 3.18), drawn as y + s * (z @ A^T) with K = A A^T (symmetric eigen-factor, exact
  for the positive semi-definite RBF matrix, whose small eigenvalues make a Cholesky factor unreliable) and
  s_i = sqrt(alpha_b Var[y_i]).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError

__all__ = ["PB_PER_FB", "UncertaintyModel", "block_kernel", "covariance", "effective_luminosity", "psd_factor",
           "rbf_kernel", "scales", "target_luminosity"]

PB_PER_FB = 1e-3  # 1 fb = 1e-3 pb, so L [pb^-1] = 1e3 x L [fb^-1]


def effective_luminosity(sigma_tot_pb: float, n_events: float) -> float:
    """L_eff = sigma_tot / Delta sigma_tot^2 with Delta sigma_tot = sigma_tot / sqrt(N), in pb^-1 (= N / sigma)."""
    if not (sigma_tot_pb > 0 and math.isfinite(sigma_tot_pb)):
        raise SmeftfmError(f"sigma_tot must be a positive cross section in pb, got {sigma_tot_pb}")
    if not n_events > 0:
        raise SmeftfmError(f"the target number of events (corpus.n_events) must be positive, got {n_events}")
    dsig = sigma_tot_pb / math.sqrt(n_events)
    return sigma_tot_pb / dsig**2


def target_luminosity(l_eff: float, lumi_fb: float | None) -> float:
    """The luminosity (pb^-1) the uncertainties correspond to: L_desired when given (fb^-1), else L_eff."""
    if lumi_fb is None:
        return l_eff
    if not lumi_fb > 0:
        raise SmeftfmError(f"corpus.luminosity_fb must be positive (fb^-1), got {lumi_fb}")
    return lumi_fb / PB_PER_FB


def rbf_kernel(centers: np.ndarray, corr_length: float) -> np.ndarray:
    """K_ij = exp(-(x_i - x_j)^2 / (2 l^2)) for bin centres x (GeV) and correlation length l (GeV)."""
    if not corr_length > 0:
        raise SmeftfmError(f"correlation length must be positive GeV, got {corr_length}")
    x = np.asarray(centers, dtype=np.float64)
    d = x[:, None] - x[None, :]
    return np.exp(-(d * d) / (2.0 * corr_length**2))


def _as_slices(blocks: Sequence[slice | Sequence[int]], n: int) -> list[np.ndarray]:
    out = [np.arange(n)[b] if isinstance(b, slice) else np.asarray(b, dtype=int) for b in blocks]
    cover = np.concatenate(out) if out else np.empty(0, int)
    if cover.size != n or np.unique(cover).size != n:
        raise SmeftfmError(f"blocks must partition the {n} bins exactly once, got sizes {[b.size for b in out]}")
    return out


def block_kernel(centers: np.ndarray, blocks: Sequence[slice | Sequence[int]],
                 corr_length: float | Sequence[float]) -> np.ndarray:
    """Block-diagonal RBF correlation matrix: one RBF block per observable, zero between observables.

    ``corr_length`` is one length for every block or one per block (each in its observable's unit).
    """
    n = np.asarray(centers).size
    idxs = _as_slices(blocks, n)
    lengths = ([float(corr_length)] * len(idxs) if isinstance(corr_length, int | float)  # type: ignore[arg-type]
               else [float(x) for x in corr_length])
    if len(lengths) != len(idxs):
        raise SmeftfmError(f"{len(lengths)} correlation lengths for {len(idxs)} blocks")
    k = np.zeros((n, n))
    for idx, length in zip(idxs, lengths):
        k[np.ix_(idx, idx)] = rbf_kernel(np.asarray(centers)[idx], length)
    return k


def psd_factor(k: np.ndarray) -> np.ndarray:
    """A with A A^T = K for a symmetric positive semi-definite K (eigen-decomposition, tiny negatives -> 0)."""
    w, v = np.linalg.eigh(0.5 * (k + k.T))
    return v * np.sqrt(np.clip(w, 0.0, None))


def scales(y: np.ndarray, widths: np.ndarray, kernel: np.ndarray, blocks: Sequence[slice | Sequence[int]],
           lumi: float) -> np.ndarray:
    """s_i = sqrt(alpha_b Var[y_i]) such that Sigma = diag(s) K diag(s); y may be batched [..., n] (pb/GeV)."""
    y = np.asarray(y, dtype=np.float64)
    dx = np.asarray(widths, dtype=np.float64)
    if y.shape[-1] != dx.size:
        raise SmeftfmError(f"spectrum has {y.shape[-1]} bins but there are {dx.size} bin widths")
    if not lumi > 0:
        raise SmeftfmError(f"luminosity must be positive (pb^-1), got {lumi}")
    var = np.clip(y, 0.0, None) / (lumi * dx)  # eq. 3.8; non-positive bins: no events, no variance
    d = np.sqrt(var)
    s = np.zeros_like(d)
    for idx in _as_slices(blocks, dx.size):
        dd = d[..., idx] * dx[idx]  # D Delta X restricted to the block
        raw = np.einsum("...i,ij,...j->...", dd, kernel[np.ix_(idx, idx)], dd)  # Delta X^T Sigma_o Delta X
        target = (np.clip(y[..., idx], 0.0, None) * dx[idx]).sum(-1) / lumi  # Poisson variance of the integral
        alpha = np.divide(target, raw, out=np.zeros_like(raw), where=raw > 0)
        s[..., idx] = np.sqrt(alpha)[..., None] * d[..., idx]
    return s


def covariance(y: np.ndarray, widths: np.ndarray, centers: np.ndarray, blocks: Sequence[slice | Sequence[int]],
               l_eff: float, corr_length: float = 35.0, lumi_fb: float | None = None) -> np.ndarray:
    """Sigma [n, n] in pb^2/GeV^2 for the spectrum y (pb/GeV); see the module docstring."""
    k = block_kernel(centers, blocks, corr_length)
    s = scales(y, widths, k, blocks, target_luminosity(l_eff, lumi_fb))
    return s[:, None] * k * s[None, :]




@dataclass
class UncertaintyModel:
    """The calibrated uncertainty model of one binning: ``covariance(y)`` and ``sample(y, n, rng)``."""

    widths: np.ndarray
    centers: np.ndarray
    blocks: tuple[slice, ...]
    l_eff: float
    corr_length: float | tuple[float, ...] = 35.0
    lumi_fb: float | None = None

    def __post_init__(self) -> None:
        self.widths = np.asarray(self.widths, dtype=np.float64)
        self.centers = np.asarray(self.centers, dtype=np.float64)
        self.kernel = block_kernel(self.centers, self.blocks, self.corr_length)
        self.factor = psd_factor(self.kernel)
        self.lumi = target_luminosity(self.l_eff, self.lumi_fb)

    @classmethod
    def from_templates(cls, templates, n_events: float, corr_length: float = 35.0,
                       lumi_fb: float | None = None) -> UncertaintyModel:
        """Calibrate L_eff on the SM cross section in the acceptance (the m_ll block's integral, pb).

        ``corr_length`` (GeV) applies to the GeV observables; a dimensionless one uses its registry length.
        """
        from ..physics.observables import get

        sm = templates.term("SM")
        mll = templates.slice("mll")
        sigma = float((sm[mll] * templates.widths[mll]).sum())
        blocks, start = [], 0
        for b in templates.binnings:
            blocks.append(slice(start, start + b.n))
            start += b.n
        centers = np.concatenate([b.centers for b in templates.binnings])
        own = [get(b.observable).corr_length for b in templates.binnings]
        lengths = tuple(float(corr_length if x is None else x) for x in own)
        length: float | tuple[float, ...] = lengths[0] if len(set(lengths)) == 1 else lengths
        return cls(templates.widths, centers, tuple(blocks), effective_luminosity(sigma, n_events), length,
                   lumi_fb)

    @classmethod
    def from_params(cls, params, templates) -> UncertaintyModel:
        c = params.corpus
        return cls.from_templates(templates, c.n_events, c.corr_length_gev, c.luminosity_fb)

    @property
    def rescale(self) -> float:
        """m = sqrt(L_eff / L_desired) (1 without a desired luminosity), eq. 3.13."""
        return math.sqrt(self.l_eff / self.lumi)

    def scales(self, y: np.ndarray) -> np.ndarray:
        """s with Sigma = diag(s) K diag(s); batched over leading axes of y."""
        return scales(y, self.widths, self.kernel, self.blocks, self.lumi)

    def covariance(self, y: np.ndarray) -> np.ndarray:
        s = self.scales(y)
        return s[..., :, None] * self.kernel * s[..., None, :]

    def noise(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Correlated fluctuations s * (z @ A^T) for standard normals z [n, bins] (dtype of z kept)."""
        s = self.scales(y).astype(z.dtype)
        return (z @ self.factor.T.astype(z.dtype)) * s

    def sample(self, y: np.ndarray, n: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
        """n replicas [n, bins] ~ N(y, Sigma(y)) in pb/GeV."""
        y = np.asarray(y, dtype=np.float64)
        z = rng.standard_normal((n, y.size), dtype=dtype)
        return (y.astype(dtype) + self.noise(y, z)).astype(dtype, copy=False)

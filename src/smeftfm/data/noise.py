r"""The replica noise model: the paper's RBF covariance with a nugget, the exact m_ll x p_T cross-covariance, and
Poisson counts where a bin expects few events.

Units: y in pb/GeV, bin widths in GeV, luminosity L in pb^-1, covariances in pb^2/GeV^2, cross sections in pb.

Covariance (one construction for the corpus, the SM and anomaly replicas, and the exact chi^2 truth):

    Sigma(rho) = (1 - rho) Sigma_Poisson + rho Sigma_paper

* ``Sigma_paper`` is the seed paper's alpha_b D K D per observable block b (eqs. 3.14-3.17, built by
  :mod:`.uncertainties`): RBF kernel K (35 GeV), D = diag(sqrt(y / (L dX))), alpha_b calibrated so that the
  block integral has the Poisson variance; no correlation between the m_ll and p_T blocks.
* ``Sigma_Poisson`` is the exact covariance of the two histograms filled by one Poisson event sample:
  Var(y_i) = y_i / (L dX_i) (bins of one observable are disjoint, hence independent) and, between m_ll bin i and
  p_T bin j, Cov(y_i, y_j) = sigma_{i cap j} / (L dX_i dX_j) with the 2-D cross section sigma_{i cap j} (pb) from
  :mod:`smeftfm.physics.joint`. It has exactly one null direction: both histograms count the same events, so
  their integrals are equal in every replica.

Within a block Sigma(rho) = D [(1 - rho) I + rho alpha_b K] D: the nugget form, and eq. 3.17 holds for every rho
(the integral's variance is the Poisson one for both terms). Between blocks it is (1 - rho) times the exact
cross-covariance. Both terms are covariance matrices, so Sigma(rho) is positive semi-definite; for 0 < rho < 1 it
is full rank (the nugget fills the RBF's null space, the RBF fills the histogram-sum constraint); rho = 1 is the
paper's matrix exactly.

Sampling: x ~ N(y, Sigma) through the eigen-factor of Sigma. In bins expecting fewer than ``poisson_below``
events (mu_i = L y_i dX_i) the Gaussian marginal is replaced by the Poisson one through the Gaussian copula,
n_i = F^-1_Poisson(Phi(z_i); mu_i), z_i the standardised Gaussian draw (so the correlations are kept in rank);
every other bin is clipped at zero (no negative counts). ``poisson_below = 0`` keeps the paper's pure Gaussian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

from ..errors import DataError, SmeftfmError
from .joint_io import JointTemplates, read_joint
from .uncertainties import UncertaintyModel, scales, target_luminosity

__all__ = ["NoiseModel", "corpus_noise", "poisson_covariance", "poisson_quantile"]


def poisson_covariance(y: np.ndarray, widths: np.ndarray, lumi: float, mll: slice, pt: slice,
                       cross_pb: np.ndarray | None) -> np.ndarray:
    """Exact Poisson covariance [B, B] of the spectrum y (pb/GeV) at luminosity ``lumi`` (pb^-1).

    ``cross_pb [n_mll, n_pt]`` is sigma_{i cap j} in pb (None: no cross-covariance, e.g. a single observable).
    """
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, None)
    dx = np.asarray(widths, dtype=np.float64)
    cov = np.diag(y / (lumi * dx))
    if cross_pb is not None:
        c = np.clip(np.asarray(cross_pb, dtype=np.float64), 0.0, None)
        if c.shape != (mll.stop - mll.start, pt.stop - pt.start):
            raise SmeftfmError(f"cross sections have shape {c.shape}, expected the m_ll x p_T bins")
        off = c / (lumi * dx[mll][:, None] * dx[pt][None, :])
        cov[mll, pt] = off
        cov[pt, mll] = off.T
    return cov


def poisson_quantile(u: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Smallest k with P(N <= k; mu_j) >= u for u [n, J] in (0, 1) and means mu [J] (vectorised table look-up)."""
    mu = np.asarray(mu, dtype=np.float64)
    k_max = int(np.ceil(mu.max() + 12.0 * np.sqrt(mu.max()) + 12.0)) if mu.size else 0
    cdf = stats.poisson.cdf(np.arange(k_max + 1)[:, None], mu[None, :])  # [K, J]
    out = np.empty(np.shape(u))
    for j in range(mu.size):  # one searchsorted per bin (J <= a few dozen), vectorised over replicas
        out[:, j] = np.searchsorted(cdf[:, j], u[:, j], side="left")
    return np.minimum(out, k_max)


@dataclass
class NoiseModel:
    """Sigma(rho) and replica sampling for one binning; see the module docstring.

    ``blocks`` are the observables' bin ranges (``names`` their observables, e.g. ``("mll", "pt")``), ``kernel``
    the paper's block-diagonal RBF matrix, ``l_eff`` in pb^-1 (eq. 3.10), ``lumi_fb`` the scenario's luminosity in
    fb^-1 (None: L_eff), ``nugget`` rho in [0, 1], ``poisson_below`` in expected events per bin. The exact
    cross-covariance between histograms is implemented for m_ll x p_T, so rho < 1 needs exactly those two.
    """

    widths: np.ndarray
    blocks: tuple[slice, ...]
    names: tuple[str, ...]
    kernel: np.ndarray
    l_eff: float
    lumi_fb: float | None = None
    nugget: float = 1.0
    poisson_below: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.nugget <= 1.0:
            raise SmeftfmError(f"corpus.nugget (rho) must lie in [0, 1], got {self.nugget}")
        if not self.poisson_below >= 0:
            raise SmeftfmError(f"corpus.poisson_below must be >= 0 expected events, got {self.poisson_below}")
        if self.nugget < 1.0 and sorted(self.names) != ["mll", "pt"]:
            raise SmeftfmError(f"corpus.nugget < 1 needs the exact cross-covariance between the histograms, which "
                               f"exists for m_ll x p_T only (observables here: {list(self.names)}); set "
                               "corpus.nugget: 1 (the paper's block-diagonal Sigma) for other observable sets")
        self.widths = np.asarray(self.widths, dtype=np.float64)
        self.lumi = target_luminosity(self.l_eff, self.lumi_fb)

    @property
    def mll(self) -> slice:
        return self.blocks[self.names.index("mll")]

    @property
    def pt(self) -> slice:
        return self.blocks[self.names.index("pt")]

    @classmethod
    def from_templates(cls, templates, n_events: float, corr_length: float = 35.0, lumi_fb: float | None = None,
                       nugget: float = 1.0, poisson_below: float = 0.0) -> NoiseModel:
        """The paper's blocks, kernel and L_eff (:class:`UncertaintyModel`), plus rho and the Poisson threshold."""
        paper = UncertaintyModel.from_templates(templates, n_events, corr_length, lumi_fb)
        names = tuple(b.observable for b in templates.binnings)
        return cls(templates.widths, tuple(paper.blocks), names, paper.kernel, paper.l_eff, lumi_fb, nugget,
                   poisson_below)

    @classmethod
    def from_params(cls, params, templates) -> NoiseModel:
        c = params.corpus
        return cls.from_templates(templates, c.n_events, c.corr_length_gev, c.luminosity_fb, c.nugget,
                                  c.poisson_below)

    @property
    def rescale(self) -> float:
        """m = sqrt(L_eff / L_desired), eq. 3.13 (1 at L_eff)."""
        return math.sqrt(self.l_eff / self.lumi)

    def expected_events(self, y: np.ndarray) -> np.ndarray:
        """mu_i = L y_i dX_i per bin (events; m_ll and p_T bins each count every event once)."""
        return np.clip(np.asarray(y, dtype=np.float64), 0.0, None) * self.widths * self.lumi

    def paper_covariance(self, y: np.ndarray) -> np.ndarray:
        """alpha_b D K D per block (the seed paper's Sigma), pb^2/GeV^2."""
        s = scales(y, self.widths, self.kernel, self.blocks, self.lumi)
        return s[:, None] * self.kernel * s[None, :]

    def covariance(self, y: np.ndarray, cross_pb: np.ndarray | None = None) -> np.ndarray:
        """Sigma(rho) [B, B] at spectrum y (pb/GeV); ``cross_pb`` = sigma_{i cap j} (pb) is needed for rho < 1."""
        y = np.asarray(y, dtype=np.float64)
        if y.shape != self.widths.shape:
            raise SmeftfmError(f"spectrum has {y.shape} bins, the noise model {self.widths.size}")
        cov = self.paper_covariance(y) if self.nugget > 0 else np.zeros((y.size, y.size))
        if self.nugget < 1.0:
            if cross_pb is None:
                raise SmeftfmError("Sigma with corpus.nugget < 1 needs the 2-D (m_ll, p_T) cross sections; "
                                   "run the `joint` stage (`dvc repro joint`)")
            p = poisson_covariance(y, self.widths, self.lumi, self.mll, self.pt, cross_pb)
            cov = (1.0 - self.nugget) * p + self.nugget * cov
        return cov

    def sample(self, y: np.ndarray, n: int, rng: np.random.Generator, cross_pb: np.ndarray | None = None,
               dtype=np.float64, cov: np.ndarray | None = None) -> np.ndarray:
        """n replicas [n, B] (pb/GeV): N(y, Sigma) with Poisson marginals below ``poisson_below`` events."""
        y = np.asarray(y, dtype=np.float64)
        cov = self.covariance(y, cross_pb) if cov is None else cov
        w, v = np.linalg.eigh(0.5 * (cov + cov.T))
        a = v * np.sqrt(np.clip(w, 0.0, None))
        z = rng.standard_normal((n, y.size))
        x = y + z @ a.T
        return self.to_counts(x, y, cov).astype(dtype, copy=False)

    def counts_per_unit(self) -> np.ndarray:
        """L dX_i: events per pb/GeV in each bin."""
        return self.lumi * self.widths

    def from_normals(self, z: np.ndarray, y: np.ndarray, factor: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """Replicas from given standard normals z [n, B] and a factor A of ``cov`` (A A^T = cov): common random
        numbers across spectra y (monotone in y in every bin, so scans over signal strengths are smooth)."""
        return self.to_counts(np.asarray(y, dtype=np.float64) + z @ factor.T, y, cov)

    def to_counts(self, x: np.ndarray, y: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """Poisson marginals (Gaussian copula) in the low-count bins, zero-clipping elsewhere; pb/GeV."""
        x = np.array(x, dtype=np.float64)
        mu = self.expected_events(y)
        low = (mu < self.poisson_below) & (y > 0)
        if np.any(low):
            sd = np.sqrt(np.clip(np.diag(cov)[low], 1e-300, None))
            u = special.ndtr((x[:, low] - y[low]) / sd)
            x[:, low] = poisson_quantile(u, mu[low]) / (self.lumi * self.widths[low])
        return np.clip(x, 0.0, None) if self.poisson_below > 0 else x


def corpus_noise(params, templates, joint_path: Path | None) -> tuple[NoiseModel, JointTemplates | None]:
    """The corpus noise model and, for ``corpus.nugget`` < 1, its 2-D (m_ll, p_T) templates (the exact m_ll x p_T
    cross-covariance of Sigma(rho)); one Sigma for the corpus, the heads and the scorecard."""
    model = NoiseModel.from_params(params, templates)
    if model.nugget >= 1.0:
        return model, None
    if joint_path is None:
        raise SmeftfmError(f"corpus.nugget = {model.nugget:g} < 1 needs the 2-D (m_ll, p_T) templates for the "
                           "m_ll x p_T cross-covariance: pass --joint data/templates/joint.parquet (made by "
                           "`dvc repro joint`), or set corpus.nugget: 1.0 (the paper's noise model)")
    joint = read_joint(joint_path)
    if tuple(joint.operators) != tuple(templates.operators):
        raise DataError(f"{joint_path} covers {joint.operators}, the templates {templates.operators}; "
                        "re-run `dvc repro joint`")
    return model, joint

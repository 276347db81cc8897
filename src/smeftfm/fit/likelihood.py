r"""Gaussian likelihoods of measured spectra given the oracle's EFT templates.

Theory per bin i (pb/GeV):  mu_i(C, N) = N * B_i * (1 + delta_i(C)),
    delta_i = sum_k C_k L_ki / S_i [+ sum_ab Q_abi C_a C_b / S_i]

with S, L, Q the LO SM, interference (O(Lambda^-2)) and dimension-6-squared (O(Lambda^-4)) templates in the dataset's
phase space, B the SM baseline and N a normalisation. The baseline is the LO SM itself (B = S), so
mu = N (S + L C [+ Q CC]): the EFT enters as a ratio to the LO SM on top of the baseline. N is profiled analytically,

    chi2(C) = min_N (d - N p)^T W (d - N p) = d^T W d - (p^T W d)^2 / (p^T W p),   p = S + L C [+ Q CC],

and a documented shape uncertainty of the baseline (Legendre modes k = 1..K in log m_ll with fractional sizes
sigma_k, Gaussian nuisances marginalised analytically) enters W^-1 = V_exp + sum_k sigma_k^2 (N0 S P_k)(N0 S P_k)^T.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SmeftfmError
from ..physics.morphing import Order
from ..physics.oracle import Templates
from .measurements import Dataset


def legendre_shape_modes(edges: np.ndarray, degrees: int) -> np.ndarray:
    """[degrees, n] Legendre polynomials P_1..P_K of log(m) mapped onto [-1, 1] over the bin centres."""
    c = np.log(0.5 * (edges[1:] + edges[:-1]))
    x = 2 * (c - c.min()) / max(c.max() - c.min(), 1e-12) - 1
    return np.stack([np.polynomial.legendre.Legendre.basis(k)(x) for k in range(1, degrees + 1)]) if degrees else \
        np.zeros((0, c.size))


@dataclass
class DatasetLikelihood:
    """chi2 of one dataset as a function of the Wilson coefficients of ``templates.operators``.

    ``fit_norm`` profiles one normalisation N; ``shape_sigma`` lists fractional sizes of the Legendre shape modes.
    """

    dataset: Dataset
    templates: Templates
    fit_norm: bool = True
    shape_sigma: tuple[float, ...] = ()
    weight: np.ndarray = field(init=False, repr=False)
    norm0: float = field(init=False)

    def __post_init__(self) -> None:
        d = self.dataset
        if self.templates.n_bins != d.n:
            raise SmeftfmError(f"{d.name}: templates have {self.templates.n_bins} bins, data {d.n}")
        sm = self.templates.values[0]
        if np.any(sm <= 0):
            raise SmeftfmError(f"{d.name}: the LO SM prediction is not positive in every bin")
        w_exp = np.linalg.inv(d.cov)
        self.norm0 = float(sm @ w_exp @ d.values / (sm @ w_exp @ sm)) if self.fit_norm else 1.0
        cov = d.cov.copy()
        modes = legendre_shape_modes(d.edges, len(self.shape_sigma))
        for s, pk in zip(self.shape_sigma, modes):
            v = s * self.norm0 * sm * pk
            cov += np.outer(v, v)
        self.cov_total = cov
        self.weight = np.linalg.inv(cov)
        self.weight = 0.5 * (self.weight + self.weight.T)

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def operators(self) -> tuple[str, ...]:
        return self.templates.operators

    @property
    def ndf(self) -> int:
        return self.dataset.n - (1 if self.fit_norm else 0)

    def predict(self, coeffs: np.ndarray, order: Order) -> np.ndarray:
        """Unnormalised LO prediction p(C) [..., n] in pb/GeV (``coeffs`` [..., K] over all template operators)."""
        return self.templates.predict(coeffs, order)

    def chi2_of_prediction(self, p: np.ndarray, data: np.ndarray | None = None) -> np.ndarray:
        """chi2 for predictions p [..., n] and data [n] or [T, 1, n] (toys broadcast against predictions)."""
        d = self.dataset.values if data is None else data
        w = self.weight
        if not self.fit_norm:
            r = d - p
            return np.einsum("...i,ij,...j->...", r, w, r)
        pw = p @ w
        a = (pw * d).sum(-1)
        b = (pw * p).sum(-1)
        dwd = np.einsum("...i,ij,...j->...", d, w, d)
        return dwd - a * a / b

    def norm_hat(self, coeffs: np.ndarray, order: Order) -> np.ndarray:
        """Fitted normalisation N(C) = p W d / p W p (1 when the normalisation is fixed)."""
        p = self.predict(coeffs, order)
        if not self.fit_norm:
            return np.ones(p.shape[:-1])
        pw = p @ self.weight
        return (pw * self.dataset.values).sum(-1) / (pw * p).sum(-1)

    def chi2(self, coeffs: np.ndarray, order: Order) -> np.ndarray:
        return self.chi2_of_prediction(self.predict(coeffs, order))


@dataclass
class Likelihood:
    """Sum of independent dataset chi2's (no correlation declared between different experiments)."""

    parts: list[DatasetLikelihood]
    name: str = "combined"

    def __post_init__(self) -> None:
        ops = {p.operators for p in self.parts}
        if len(ops) != 1:
            raise SmeftfmError("all datasets of a combined likelihood need templates over the same operators")

    @property
    def operators(self) -> tuple[str, ...]:
        return self.parts[0].operators

    @property
    def ndf(self) -> int:
        return sum(p.ndf for p in self.parts)

    def chi2(self, coeffs: np.ndarray, order: Order) -> np.ndarray:
        return sum(p.chi2(coeffs, order) for p in self.parts)


def as_likelihood(obj: DatasetLikelihood | Likelihood) -> Likelihood:
    return obj if isinstance(obj, Likelihood) else Likelihood([obj], obj.name)


def embed(operators: tuple[str, ...], subset: list[str] | tuple[str, ...], values: np.ndarray) -> np.ndarray:
    """Coefficient vectors [..., K] over ``operators`` with ``values`` [..., len(subset)] in the ``subset`` slots."""
    idx = []
    for o in subset:
        if o not in operators:
            raise SmeftfmError(f"operator '{o}' is not among the fitted operators {list(operators)}")
        idx.append(operators.index(o))
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape[:-1] + (len(operators),))
    out[..., idx] = v
    return out


def linear_fisher(lik: Likelihood, subset: list[str]) -> np.ndarray:
    """Fisher matrix of the linearised model at C = 0 (normalisation projected out), for step sizes and grids."""
    k = len(subset)
    f = np.zeros((k, k))
    for part in lik.parts:
        t = part.templates
        sm = t.values[0] * part.norm0
        lin = np.stack([t.term(f"lin:{o}") * part.norm0 for o in subset])
        w = part.weight
        if part.fit_norm:  # project out the direction of the normalisation (sm)
            proj = lin - np.outer(lin @ w @ sm / (sm @ w @ sm), sm)
        else:
            proj = lin
        f += proj @ w @ proj.T
    return f


__all__ = ["DatasetLikelihood", "Likelihood", "as_likelihood", "embed", "legendre_shape_modes", "linear_fisher"]

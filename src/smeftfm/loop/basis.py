r"""The loop's representation psi: per-event features of (m_ll, y_ll, cos theta_CS) that can be evaluated on any event.

psi starts as the mass-only polynomial basis ``P_0..P_{d-1}(u)`` (Legendre polynomials of the log-mass
coordinate ``u`` in [-1, 1]; ``P_0`` = 1 carries the normalisation shift of every log-likelihood ratio).
A psi-extension appends one *kinematic function* ``g(x) = D(x) . beta``: a fixed linear combination of the
:class:`FeatureDictionary` (tensor products of mass, angular and rapidity factors). Because ``g`` is defined by
``beta`` and not by values on the probe events, it is evaluated on fresh events (the validation probe set) exactly
like the initial basis; see ``docs/aletheia.md``.

Coordinates (all dimensionless, in [-1, 1] inside the acceptance):

* ``u = 2 (ln m - ln m_lo) / (ln m_hi - ln m_lo) - 1`` (m in GeV, the generation window);
* ``c = cos theta_CS``;
* ``v = 2 |y_ll| / y_max - 1`` with ``y_max = eta_max`` (the pp initial state is symmetric under y -> -y at fixed
  cos theta_CS, so only |y| enters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import SmeftfmError
from ..physics.kinematics import KinematicMap

__all__ = ["AppendedFeature", "FeatureDictionary", "Psi", "legendre", "mass_polynomials"]


def legendre(x: np.ndarray, degree: int) -> np.ndarray:
    """Legendre polynomials ``P_0..P_degree`` at ``x`` (vectorised recurrence), shape ``[n, degree + 1]``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape + (degree + 1,))
    out[..., 0] = 1.0
    if degree >= 1:
        out[..., 1] = x
    for k in range(2, degree + 1):
        out[..., k] = ((2 * k - 1) * x * out[..., k - 1] - (k - 1) * out[..., k - 2]) / k
    return out


def mass_polynomials(m: np.ndarray, dim: int, kmap: KinematicMap) -> np.ndarray:
    """The initial psi: ``P_0..P_{dim-1}(u(m))``, shape ``[n, dim]``."""
    if dim < 1:
        raise SmeftfmError(f"the initial psi needs dimension >= 1, got {dim}; set loop.psi_init_dim")
    return legendre(kmap.u(m), dim - 1)


@dataclass(frozen=True)
class FeatureDictionary:
    """Rich kinematic dictionary used to express a residual direction as a function of the event.

    Features are all products ``M_a(m) A_b(cos) Y_e(|y|)`` of

    * mass factors: ``P_0..P_{mass_degree}(u)`` and the two Breit-Wigner shapes times ``P_0, P_1(u)``;
    * angular factors: ``P_0..P_{cos_degree}(c)`` and ``2c / (1 + c^2)`` (the ratio of the helicity structures
      ``2 cos`` and ``1 + cos^2`` of the Drell-Yan angular distribution);
    * rapidity factors: ``P_0..P_{rapidity_degree}(v)``.
    """

    kmap: KinematicMap = field(default_factory=KinematicMap)
    mass_degree: int = 8
    cos_degree: int = 4
    rapidity_degree: int = 2

    def __post_init__(self) -> None:
        if min(self.mass_degree, self.cos_degree, self.rapidity_degree) < 0:
            raise SmeftfmError("dictionary degrees must be >= 0 (loop.dictionary.*)")

    @property
    def size(self) -> int:
        return (self.mass_degree + 1 + 4) * (self.cos_degree + 2) * (self.rapidity_degree + 1)

    def __call__(self, m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray) -> np.ndarray:
        """Dictionary features, shape ``[n, size]`` (float64)."""
        m, y, c = (np.asarray(a, dtype=np.float64) for a in (m, y, cos_cs))
        u = self.kmap.u(m)
        pu = legendre(u, self.mass_degree)
        re_bw, abs_bw = self.kmap.breit_wigner(m)
        mass = np.concatenate([pu, re_bw[:, None] * pu[:, :2], abs_bw[:, None] * pu[:, :2]], axis=1)
        ang = np.concatenate([legendre(c, self.cos_degree), (2.0 * c / (1.0 + c * c))[:, None]], axis=1)
        rap = legendre(self.kmap.v(y), self.rapidity_degree)
        out = mass[:, :, None, None] * ang[:, None, :, None] * rap[:, None, None, :]
        return out.reshape(m.shape[0], -1)


@dataclass(frozen=True)
class AppendedFeature:
    """One psi-extension: a kinematic function of the event.

    ``kind='dictionary'``: ``g(x) = D(x) . beta`` (a fitted combination of the :class:`FeatureDictionary`).
    ``kind='morphing'``: ``g(x) = sum_j w_j l_{C_j}(x)``, the exact log-likelihood-ratio combination selected by the
    right singular vector of R (``coeffs [k, K]`` the acquired working points, ``weights [k]``); it is evaluated on
    any events from their morphing terms (one oracle call per event set, none per candidate).
    """

    kind: str
    label: str
    beta: np.ndarray | None = None
    coeffs: np.ndarray | None = None
    weights: np.ndarray | None = None


@dataclass(frozen=True)
class Psi:
    """psi = [mass polynomials (``init_dim``), appended kinematic functions]."""

    init_dim: int
    kmap: KinematicMap
    dictionary: FeatureDictionary
    appended: tuple[AppendedFeature, ...] = ()
    base_features: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    """Replaces the mass polynomials when given: psi_0 = [1, base_features(m, y, cos)] (``init_dim`` columns),
    e.g. a trained encoder's per-event features (:mod:`smeftfm.loop.informer_basis`)."""

    @property
    def dim(self) -> int:
        return self.init_dim + len(self.appended)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(a.label for a in self.appended)

    def extend_dictionary(self, beta: np.ndarray, label: str) -> Psi:
        """A new psi with ``D . beta`` appended (``beta`` has the dictionary's size)."""
        beta = np.asarray(beta, dtype=np.float64)
        if beta.shape != (self.dictionary.size,):
            raise SmeftfmError(f"extension needs {self.dictionary.size} dictionary weights, got {beta.shape}")
        return replace(self, appended=(*self.appended, AppendedFeature("dictionary", label, beta=beta)))

    def extend_morphing(self, coeffs: np.ndarray, weights: np.ndarray, label: str) -> Psi:
        """A new psi with ``sum_j weights_j l_{coeffs_j}`` appended."""
        c = np.atleast_2d(np.asarray(coeffs, dtype=np.float64))
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if c.shape[0] != w.size:
            raise SmeftfmError(f"{c.shape[0]} working points but {w.size} weights in a morphing extension")
        return replace(self, appended=(*self.appended, AppendedFeature("morphing", label, coeffs=c, weights=w)))

    def evaluate(self, m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray, dictionary_values=None,
                 llr=None) -> np.ndarray:
        """psi at events, shape ``[n, dim]``.

        ``dictionary_values`` may pass precomputed ``D(x)``; ``llr`` (a
        :class:`~smeftfm.loop.likelihood.LogLikelihoodRatio` on the same events) is needed for morphing features.
        """
        if self.base_features is None:
            cols = [mass_polynomials(m, self.init_dim, self.kmap)]
        else:
            feats = np.asarray(self.base_features(m, y, cos_cs), dtype=np.float64)
            if feats.shape != (np.shape(m)[0], self.init_dim - 1):
                raise SmeftfmError(f"base features have shape {feats.shape}, expected ({np.shape(m)[0]}, "
                                   f"{self.init_dim - 1}); build Psi with init_dim = 1 + number of features")
            cols = [np.ones((feats.shape[0], 1)), feats]
        d = dictionary_values
        for a in self.appended:
            if a.kind == "dictionary":
                if d is None:
                    d = self.dictionary(m, y, cos_cs)
                cols.append((d @ a.beta)[:, None])
            elif a.kind == "morphing":
                if llr is None:
                    raise SmeftfmError("a morphing psi feature needs the events' morphing terms (pass llr=...)")
                cols.append((llr(a.coeffs) @ a.weights)[:, None])
            else:
                raise SmeftfmError(f"unknown psi feature kind '{a.kind}'")
        return np.concatenate(cols, axis=1)

r"""Exact per-event log-likelihood ratios against the SM from the polynomial morphing.

For events x in the acceptance, with per-event morphing terms ``T(x)`` (pb/GeV, quadratic order: SM, lin:k,
quad:a*b) and their integrals ``S`` in the acceptance (pb),

    p(x | C) = T(x) . mono(C) / S . mono(C),
    l_C(x)   = log[p(x | C) / p(x | SM)] = log[T(x) . mono(C) / T_SM(x)] - log[S . mono(C) / S_SM].

The terms are computed once per probe set (:func:`probe_set`); every candidate working point afterwards costs one
``[N, n_terms] @ [n_terms, M]`` product, with no oracle call. The quadratic order is used because
``|amplitude|^2`` is then a sum of squares, so the rate is positive for every C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError
from ..physics.morphing import monomials, n_terms

__all__ = ["LogLikelihoodRatio", "ProbeSet", "probe_set"]


@dataclass(frozen=True)
class ProbeSet:
    """Probe events (m_ll [GeV], y_ll, cos theta_CS) with their quadratic per-event morphing terms (pb/GeV)."""

    m: np.ndarray
    y: np.ndarray
    cos: np.ndarray
    terms: np.ndarray

    def __post_init__(self) -> None:
        n = self.m.shape[0]
        if not (self.y.shape == self.cos.shape == (n,) and self.terms.ndim == 2 and self.terms.shape[0] == n):
            raise SmeftfmError("probe set arrays disagree in length; rebuild the probe set")
        if n == 0:
            raise SmeftfmError("empty probe set; set loop.n_probe > 0")
        if not np.all(self.terms[:, 0] > 0):
            raise SmeftfmError("probe events with zero SM rate (outside the kinematic range); resample them")

    @property
    def n(self) -> int:
        return int(self.m.shape[0])


class LogLikelihoodRatio:
    """``l_C(x)`` on one probe set for any number of working points (closed form in C)."""

    def __init__(self, probe: ProbeSet, sigma_terms: np.ndarray, n_operators: int):
        s = np.asarray(sigma_terms, dtype=np.float64)
        want = n_terms(n_operators, "quadratic")
        if probe.terms.shape[1] != want or s.shape != (want,):
            raise SmeftfmError(
                f"need quadratic morphing terms for {n_operators} operators ({want} terms); got event terms "
                f"{probe.terms.shape[1]} and integrated terms {s.shape}; compute both with order='quadratic'"
            )
        if not s[0] > 0:
            raise SmeftfmError("the SM cross section in the acceptance must be positive")
        self.probe = probe
        self.sigma_terms = s
        self.n_operators = n_operators
        self._log_sm = np.log(probe.terms[:, 0])

    def rates(self, coeffs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(per-event rates [N, M] in pb/GeV, cross sections [M] in pb) at working points ``coeffs [M, K]``."""
        c = np.atleast_2d(np.asarray(coeffs, dtype=np.float64))
        if c.shape[1] != self.n_operators:
            raise SmeftfmError(f"working points need {self.n_operators} coefficients, got {c.shape[1]}")
        mono = monomials(c, "quadratic")
        return self.probe.terms @ mono.T, mono @ self.sigma_terms

    def __call__(self, coeffs: np.ndarray) -> np.ndarray:
        """``l_C`` on the probe events, shape ``[N, M]`` for ``coeffs [M, K]``."""
        rate, sigma = self.rates(coeffs)
        if np.any(rate <= 0) or np.any(sigma <= 0):
            raise SmeftfmError("non-positive rate at a working point; the morphing terms are inconsistent")
        return np.log(rate) - self._log_sm[:, None] - np.log(sigma / self.sigma_terms[0])[None, :]

    def tangents(self) -> np.ndarray:
        """Morphing tangents divided by the SM rate, ``lin:k(x) / SM(x)``, shape ``[N, K]``."""
        t = self.probe.terms
        return t[:, 1 : 1 + self.n_operators] / t[:, :1]


def probe_set(oracle, n: int, rng: np.random.Generator, coeffs: np.ndarray | None = None,
              mass_tilt: float = 0.0) -> ProbeSet:
    """Draw ``n`` events at ``coeffs`` (default SM) in the acceptance and attach their quadratic terms.

    ``mass_tilt`` = k > 0 draws from ``rate (m/m_lo)^k`` (weight them back with
    :func:`smeftfm.data.events.tilt_weights`); 0 gives unweighted events.
    """
    from ..data.events import sample_events

    c = np.zeros(len(oracle.operators)) if coeffs is None else np.asarray(coeffs, dtype=np.float64)
    m, y, cos = sample_events(oracle, c, n, rng, mass_tilt=mass_tilt)
    terms = oracle.event_terms(m, y, cos, order="quadratic")
    return ProbeSet(np.asarray(m, float), np.asarray(y, float), np.asarray(cos, float), terms)

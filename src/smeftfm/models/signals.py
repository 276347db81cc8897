r"""Anomaly signals in physical units, added to the SM spectrum (pb/GeV), for the scorecard's strength scans.

Both histograms count the same events, so every signal adds (or moves) the same events in m_ll and in p_T:

* ``tail``: N extra events above 400 GeV in m_ll, density ~ t^2 (t = (m - 400)/(650 - 400)), with the p_T
  distribution of SM events of the same mass (the 2-D templates' conditional p_T | m_ll, i.e. the acceptance and
  angular distribution of Drell-Yan): a contact-like excess.
* ``resonance``: N events of a Breit-Wigner (mass, width in GeV) in the m_ll window, p_T from the same
  conditional: a narrow vector state decaying like Drell-Yan, inside the templates' acceptance.
* ``zshift``: the Z line shape moved by delta_m GeV (the m_ll spectrum via the exact SM density when given, the
  p_T spectrum stretched by 1 + delta_m / m_Z); its strength is delta_m (GeV).
* ``combined``: N events in total: tail(N/3) + resonance(N/3) + a Z shift moving N/3 events between m_ll bins.

Events are counted at the scenario's luminosity L (pb^-1): a signal of N events adds N / (L dX_i) pb/GeV in total.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..errors import SmeftfmError
from ..physics.constants import DEFAULT_EW
from .anomaly import shifted_mass, stretched

__all__ = ["SIGNALS", "UNITS", "SignalSpace"]

SIGNALS = ("tail", "resonance", "zshift", "combined")
UNITS = {"tail": "events", "resonance": "events", "zshift": "GeV", "combined": "events"}


@dataclass(frozen=True)
class SignalSpace:
    """What a signal needs: SM spectrum y_sm (pb/GeV), the SM 2-D cross sections (pb), edges (GeV), L (pb^-1)."""

    y_sm: np.ndarray
    cross_sm: np.ndarray
    mll_edges: np.ndarray
    pt_edges: np.ndarray
    lumi: float
    density: Callable[[np.ndarray], np.ndarray] | None = None
    tail_from_gev: float = 400.0
    bw_mass_gev: float = 500.0
    bw_width_gev: float = 25.0

    @property
    def sm_events(self) -> float:
        """SM events in the m_ll window at the luminosity L."""
        return float((self.y_sm[: self.n_mll] * np.diff(self.mll_edges)).sum() * self.lumi)

    @property
    def n_mll(self) -> int:
        return self.mll_edges.size - 1

    def _with_pt(self, events_mll: np.ndarray) -> np.ndarray:
        """Spectrum delta (pb/GeV) of events per m_ll bin, their p_T drawn from the SM's p_T | m_ll."""
        row = self.cross_sm.sum(1, keepdims=True)
        cond = np.divide(self.cross_sm, row, out=np.zeros_like(self.cross_sm), where=row > 0)
        events_pt = events_mll @ cond
        return np.concatenate([events_mll / np.diff(self.mll_edges), events_pt / np.diff(self.pt_edges)]) / self.lumi

    def tail(self, n_events: float) -> np.ndarray:
        c = 0.5 * (self.mll_edges[1:] + self.mll_edges[:-1])
        t = np.clip((c - self.tail_from_gev) / (self.mll_edges[-1] - self.tail_from_gev), 0.0, None) ** 2
        if t.sum() <= 0:
            raise SmeftfmError(f"the tail signal starts at {self.tail_from_gev} GeV, beyond the m_ll range")
        return self._with_pt(n_events * t / t.sum())

    def resonance(self, n_events: float) -> np.ndarray:
        gam = 0.5 * self.bw_width_gev
        cdf = np.arctan((self.mll_edges - self.bw_mass_gev) / gam)
        frac = np.diff(cdf) / (cdf[-1] - cdf[0])
        return self._with_pt(n_events * frac)

    def zshift(self, delta_m: float) -> np.ndarray:
        sl = slice(0, self.n_mll)
        m = shifted_mass(self.y_sm[sl], self.mll_edges, delta_m, self.density)
        p = stretched(self.y_sm[self.n_mll:], self.pt_edges, 1.0 + delta_m / DEFAULT_EW.m_z)
        return np.concatenate([m, p]) - self.y_sm

    def events_moved(self, delta: np.ndarray) -> float:
        """Half the absolute change of the m_ll counts: events that changed bin (or appeared)."""
        return 0.5 * float(np.abs(delta[: self.n_mll] * np.diff(self.mll_edges)).sum() * self.lumi)

    def zshift_moving(self, n_events: float) -> float:
        """delta_m (GeV) whose Z shift moves ``n_events`` events between m_ll bins."""
        if n_events <= 0:
            return 0.0
        f = lambda d: self.events_moved(self.zshift(d)) - n_events  # noqa: E731
        hi = 0.01
        while f(hi) < 0:
            hi *= 2
            if hi > 50:
                raise SmeftfmError(f"no Z shift below 50 GeV moves {n_events} events")
        return float(optimize.brentq(f, 0.0, hi, xtol=1e-6))

    def combined(self, n_events: float) -> np.ndarray:
        third = n_events / 3.0
        return self.tail(third) + self.resonance(third) + self.zshift(self.zshift_moving(third))

    def delta(self, signal: str, strength: float) -> np.ndarray:
        """The signal's deformation (pb/GeV) at ``strength`` (events, or GeV for ``zshift``)."""
        if signal not in SIGNALS:
            raise SmeftfmError(f"unknown signal '{signal}'; use one of {SIGNALS}")
        return getattr(self, signal)(strength)

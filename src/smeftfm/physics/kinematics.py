"""Leading-order Drell-Yan kinematics in (m_ll, y_ll, cos theta_CS) and the muon acceptance.

At LO the dilepton pair has no transverse momentum, so the Collins-Soper frame is the pair rest frame with
the z axis along the beam. We use the experimental sign convention (CDF, CMS, ATLAS): the CS z axis points
along the pair's longitudinal boost, so cos theta_CS = sign(y_ll) cos theta*, theta* being the mu- angle to
the +z beam (the direction of proton 1). With this convention the forward-backward asymmetry survives the
integration over y_ll. Then p_T(mu+-) = (m/2) sin theta*, eta(mu-/+) = y +/- atanh(cos theta*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError
from .constants import DEFAULT_EW

__all__ = ["Acceptance", "KinematicMap", "cos_lab"]


@dataclass(frozen=True)
class Acceptance:
    """Fiducial cuts on both muons (|eta| < eta_max, p_T > pt_min GeV) and the generation window in m_ll (GeV)."""

    eta_max: float = 2.5
    pt_min: float = 10.0
    m_lo: float = 50.0
    m_hi: float = 650.0

    def __post_init__(self) -> None:
        if not (self.eta_max > 0 and self.pt_min >= 0 and 0 < self.m_lo < self.m_hi):
            raise ValueError(f"bad acceptance {self}: need eta_max > 0, pt_min >= 0, 0 < m_lo < m_hi")

    @classmethod
    def no_cuts(cls, m_lo: float, m_hi: float) -> Acceptance:
        """Full phase space in the mass window: no muon cuts (eta_max = inf, p_T,min = 0)."""
        return cls(eta_max=math.inf, pt_min=0.0, m_lo=m_lo, m_hi=m_hi)

    @classmethod
    def from_params(cls, ob) -> Acceptance:
        """From an ``observables`` params section (``eta_max: null`` = no |eta| cut)."""
        eta = math.inf if ob.eta_max is None else ob.eta_max
        return cls(eta_max=eta, pt_min=ob.pt_min, m_lo=ob.mll_window[0], m_hi=ob.mll_window[1])

    @property
    def lepton_cuts(self) -> bool:
        """False for the full phase space (no |eta| and no p_T cut on the muons)."""
        return math.isfinite(self.eta_max) or self.pt_min > 0

    def cos_max(self, m: np.ndarray) -> np.ndarray:
        """Largest |cos theta*| allowed at mass m: from |eta| < eta_max and p_T > pt_min."""
        m = np.asarray(m, dtype=np.float64)
        from_pt = np.sqrt(np.clip(1.0 - (2.0 * self.pt_min / m) ** 2, 0.0, 1.0))
        return np.minimum(math.tanh(self.eta_max), from_pt)

    def y_max(self, m: np.ndarray, cos: np.ndarray, sqrt_s: float) -> np.ndarray:
        """Half-width of the allowed |y| at (m, cos theta*): |y| < eta_max - atanh|cos| and x_{1,2} < 1.

        Without an |eta| cut (eta_max = inf) only the kinematic limit ln(sqrt S / m) binds, also at |cos| = 1
        (where eta_max - atanh|cos| would be inf - inf).
        """
        m = np.asarray(m, dtype=np.float64)
        kin = np.log(sqrt_s / m)
        if not math.isfinite(self.eta_max):
            return np.clip(np.broadcast_to(kin, np.broadcast_shapes(kin.shape, np.shape(cos))), 0.0, None).copy()
        return np.clip(np.minimum(self.eta_max - np.arctanh(np.abs(cos)), kin), 0.0, None)

    def contains(self, m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray) -> np.ndarray:
        """Boolean mask of events inside the acceptance and the mass window."""
        m, y, c = (np.asarray(a, dtype=np.float64) for a in (m, y, cos_cs))
        a = np.arctanh(np.clip(np.abs(c), 0.0, 1.0 - 1e-16))
        pt = 0.5 * m * np.sqrt(np.clip(1.0 - c * c, 0.0, 1.0))
        return (
            (m >= self.m_lo)
            & (m <= self.m_hi)
            & (np.abs(y) + a < self.eta_max)
            & (pt > self.pt_min)
        )


def cos_lab(y: np.ndarray, cos_cs: np.ndarray, xp=np):
    """cos theta* (to the +z beam) from the Collins-Soper angle: sign(y) cos theta_CS (y = 0 maps to +)."""
    sign = xp.where(y >= 0, 1.0, -1.0)
    return sign * cos_cs








@dataclass(frozen=True)
class KinematicMap:
    """Maps (m_ll [GeV], y_ll, cos theta_CS) to the dimensionless coordinates (u, v, c) in [-1, 1]."""

    m_lo: float = 50.0
    m_hi: float = 650.0
    y_max: float = 2.5
    m_z: float = DEFAULT_EW.m_z
    gamma_z: float = DEFAULT_EW.gamma_z

    def __post_init__(self) -> None:
        if not (0 < self.m_lo < self.m_hi and self.y_max > 0 and self.m_z > 0 and self.gamma_z > 0):
            raise SmeftfmError(f"bad kinematic map {self}: need 0 < m_lo < m_hi (GeV), y_max > 0, m_z, gamma_z > 0")

    @classmethod
    def from_oracle(cls, oracle) -> KinematicMap:
        acc, ew = oracle.acceptance, oracle.ew
        return cls(acc.m_lo, acc.m_hi, acc.eta_max, ew.m_z, ew.gamma_z)

    def u(self, m: np.ndarray) -> np.ndarray:
        lm = np.log(np.asarray(m, dtype=np.float64))
        return 2.0 * (lm - np.log(self.m_lo)) / (np.log(self.m_hi) - np.log(self.m_lo)) - 1.0

    def v(self, y: np.ndarray) -> np.ndarray:
        return 2.0 * np.abs(np.asarray(y, dtype=np.float64)) / self.y_max - 1.0

    def breit_wigner(self, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dimensionless Z-propagator shapes: (Re, |.|^2) of ``m_Z Gamma_Z / (m^2 - m_Z^2 + i m_Z Gamma_Z)``.

        Both are O(1) at the pole and fall off away from it; they carry the pole-width structure (about 2.5 GeV)
        that low-order polynomials in ``u`` cannot resolve.
        """
        m = np.asarray(m, dtype=np.float64)
        d = m * m - self.m_z**2
        g = self.m_z * self.gamma_z
        den = d * d + g * g
        return d * g / den, g * g / den

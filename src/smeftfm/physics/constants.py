"""Electroweak inputs and derived constants in the m_W input scheme.

Inputs follow the default parameter card of SMEFTsim 3.0 (U35, ``MwScheme``): {m_W, m_Z, G_F} with
fixed-width propagators [Brivio, arXiv:2012.11343; Brivio, Jiang, Trott, arXiv:1709.06492]. Units are
GeV (masses, widths, energies) and GeV^-2 (G_F); cross sections leave the oracle in pb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["DEFAULT_EW", "EWInputs", "GEV2_TO_PB"]

#: (hbar c)^2 in GeV^2 pb: converts a cross section in GeV^-2 to pb.
GEV2_TO_PB: float = 0.3893793721e9


@dataclass(frozen=True)
class EWInputs:
    """Input parameters of the m_W scheme and the quantities derived from them.

    Attributes are in GeV (``m_w``, ``m_z``, ``gamma_z``, ``lambda_np``, ``sqrt_s``) and GeV^-2 (``g_f``).
    The Z width is an input of the fixed-width Breit-Wigner 1/(s - m_Z^2 + i m_Z Gamma_Z) and is not
    shifted by SMEFT, as in SMEFTsim's default card.
    """

    m_w: float = 80.387
    m_z: float = 91.1876
    g_f: float = 1.1663787e-5
    gamma_z: float = 2.4952
    lambda_np: float = 1000.0
    sqrt_s: float = 13000.0

    # derived, filled in __post_init__
    cw: float = field(init=False)
    sw: float = field(init=False)
    sw2: float = field(init=False)
    vev: float = field(init=False)
    alpha: float = field(init=False)
    e: float = field(init=False)
    g_z: float = field(init=False)
    eps: float = field(init=False)

    def __post_init__(self) -> None:
        for name in ("m_w", "m_z", "g_f", "gamma_z", "lambda_np", "sqrt_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"EW input {name} must be positive, got {getattr(self, name)}")
        if not self.m_w < self.m_z:
            raise ValueError("the m_W scheme needs m_W < m_Z")
        cw = self.m_w / self.m_z
        sw2 = 1.0 - cw**2
        sw = math.sqrt(sw2)
        vev = (math.sqrt(2.0) * self.g_f) ** -0.5  # v_hat = (sqrt2 G_F)^(-1/2) ~ 246.2 GeV
        alpha = math.sqrt(2.0) * self.g_f * self.m_w**2 * sw2 / math.pi
        e = math.sqrt(4.0 * math.pi * alpha)
        object.__setattr__(self, "cw", cw)
        object.__setattr__(self, "sw", sw)
        object.__setattr__(self, "sw2", sw2)
        object.__setattr__(self, "vev", vev)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "e", e)
        object.__setattr__(self, "g_z", e / (sw * cw))
        object.__setattr__(self, "eps", vev**2 / self.lambda_np**2)

    @property
    def s_hadronic(self) -> float:
        """Hadronic centre-of-mass energy squared S, GeV^2."""
        return self.sqrt_s**2


#: The default inputs (13 TeV, Lambda = 1 TeV).
DEFAULT_EW = EWInputs()

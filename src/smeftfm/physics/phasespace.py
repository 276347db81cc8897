"""Fiducial definitions as data: collider energy, lepton cuts, mass window and the binned observables.

A :class:`PhaseSpace` is everything that defines *which* cross sections a dataset holds, so a new dataset or
another collider energy is configuration (``params.yaml`` ``physics.sqrt_s`` and ``observables``), not code::

    PhaseSpace.build(13000.0, (15.0, 3000.0), {"mll": edges}, lepton_cuts=False).oracle().binned_templates()

gives the full-phase-space dsigma/dm_ll at 13 TeV. Units: GeV; observables as in :mod:`.observables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SmeftfmError
from .constants import EWInputs
from .kinematics import Acceptance
from .observables import Binning, binnings_from_observable_params
from .operators import VECTOR_OPERATORS
from .oracle import Oracle

__all__ = ["PhaseSpace"]


@dataclass(frozen=True)
class PhaseSpace:
    """sqrt(S) in GeV, the muon acceptance with the m_ll window, and the histograms (in order)."""

    sqrt_s: float
    acceptance: Acceptance
    binnings: tuple[Binning, ...]

    def __post_init__(self) -> None:
        if not self.sqrt_s > 0:
            raise SmeftfmError(f"sqrt_s must be positive GeV, got {self.sqrt_s}")
        names = [b.observable for b in self.binnings]
        if len(set(names)) != len(names):
            raise SmeftfmError(f"each observable may be binned once, got {names}")
        if self.acceptance.m_hi > self.sqrt_s:
            raise SmeftfmError(f"the mass window ends at {self.acceptance.m_hi} GeV, above sqrt_s = {self.sqrt_s}")

    @classmethod
    def build(cls, sqrt_s: float, mll_window: tuple[float, float], binnings: Mapping[str, Sequence[float]],
              lepton_cuts: bool = True, eta_max: float = 2.5, pt_min: float = 10.0) -> PhaseSpace:
        """From plain numbers: ``binnings`` maps observable name -> bin edges."""
        lo, hi = mll_window
        acc = Acceptance(eta_max, pt_min, lo, hi) if lepton_cuts else Acceptance.no_cuts(lo, hi)
        return cls(sqrt_s, acc, tuple(Binning(k, np.asarray(v, dtype=np.float64)) for k, v in binnings.items()))

    @classmethod
    def from_params(cls, params) -> PhaseSpace:
        """From :class:`smeftfm.config.Params` (``physics.sqrt_s`` and the ``observables`` section)."""
        ob = params.observables
        return cls(params.physics.sqrt_s, Acceptance.from_params(ob), binnings_from_observable_params(ob))

    @property
    def lepton_cuts(self) -> bool:
        return self.acceptance.lepton_cuts

    @property
    def observables(self) -> tuple[str, ...]:
        return tuple(b.observable for b in self.binnings)

    def ew(self, lambda_np: float = 1000.0) -> EWInputs:
        """The m_W-scheme inputs at this collider energy (Lambda in GeV)."""
        return EWInputs(lambda_np=lambda_np, sqrt_s=self.sqrt_s)

    def oracle(self, operators=None, pdf: str = "CT18LO", pdf_member: int = 0, lambda_np: float = 1000.0):
        """An :class:`~smeftfm.physics.oracle.Oracle` on this phase space (default: the 17 vector operators)."""
        return Oracle(operators=operators or VECTOR_OPERATORS, pdf=pdf, pdf_member=pdf_member,
                      ew=self.ew(lambda_np), acceptance=self.acceptance)

"""The one adapter between a dataset's declared phase space and the oracle.

Everything the fit needs from the physics package goes through :func:`dataset_templates`: the dataset's
:class:`~smeftfm.fit.measurements.DatasetPhaseSpace` becomes a :class:`~smeftfm.physics.phasespace.PhaseSpace`
(sqrt(s), lepton cuts or none, the measured bins of a registered observable), whose oracle returns the binned
morphing templates dsigma/dX in pb/GeV of exactly the measured bins.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SmeftfmError
from ..physics.morphing import Order
from ..physics.observables import REGISTRY
from ..physics.oracle import QuadratureSpec, Templates
from ..physics.phasespace import PhaseSpace
from .measurements import DatasetPhaseSpace

__all__ = ["check_computable", "dataset_templates", "physics_phase_space"]


def check_computable(ps: DatasetPhaseSpace, edges: np.ndarray, name: str) -> None:
    """One clear error when the oracle cannot predict this phase space (LO pp -> l+ l-, registered observables)."""
    if ps.observable not in REGISTRY:
        raise SmeftfmError(
            f"dataset {name}: the oracle cannot compute observable '{ps.observable}'; it predicts the registered "
            f"observables {sorted(REGISTRY)} (see docs/extending.md to register another)"
        )
    if ps.lepton_flavour != "single":
        raise SmeftfmError(
            f"dataset {name}: lepton_flavour '{ps.lepton_flavour}' is not computable; the oracle gives the cross "
            "section of one lepton flavour (lepton_flavour: single); divide a sum over flavours by their number"
        )
    if ps.observable == "mll" and not ps.sqrt_s > 2 * edges[-1]:
        raise SmeftfmError(
            f"dataset {name}: sqrt(s) = {ps.sqrt_s} GeV cannot produce m_ll up to {edges[-1]} GeV; check sqrt_s_gev"
        )
    if ps.observable == "mll" and ps.pt_min is not None and ps.pt_min >= edges[-1] / 2:
        raise SmeftfmError(f"dataset {name}: pt_min {ps.pt_min} GeV leaves no phase space below {edges[-1]} GeV")


def physics_phase_space(ps: DatasetPhaseSpace, edges: np.ndarray, name: str = "dataset") -> PhaseSpace:
    """The physics :class:`PhaseSpace` of a dataset measured in m_ll bins ``edges`` (GeV)."""
    edges = np.asarray(edges, dtype=np.float64)
    check_computable(ps, edges, name)
    if ps.observable != "mll":
        raise SmeftfmError(f"dataset {name}: the fit reads m_ll spectra; a '{ps.observable}' spectrum needs its "
                           "m_ll window declared (not supported yet)")
    return PhaseSpace.build(
        ps.sqrt_s, (float(edges[0]), float(edges[-1])), {"mll": edges}, lepton_cuts=not ps.full,
        eta_max=ps.eta_max if ps.eta_max is not None else math.inf,
        pt_min=ps.pt_min if ps.pt_min is not None else 0.0,
    )


def dataset_templates(
    ps: DatasetPhaseSpace,
    edges: np.ndarray,
    operators,
    order: Order = "quadratic",
    pdf="CT18LO",
    pdf_member: int = 0,
    lambda_np: float = 1000.0,
    spec: QuadratureSpec = QuadratureSpec(),
    name: str = "dataset",
) -> Templates:
    """Binned templates dsigma/dm_ll [terms, bins] in pb/GeV in the dataset's phase space (LO, per lepton flavour)."""
    space = physics_phase_space(ps, edges, name)
    oracle = space.oracle(tuple(operators), pdf, pdf_member, lambda_np)
    t = oracle.binned_templates(order, space.binnings, spec)
    t.meta.update({"sqrt_s": ps.sqrt_s, "pt_min": ps.pt_min, "eta_max": ps.eta_max, "dataset": name,
                   "lepton_cuts": space.lepton_cuts})
    return t

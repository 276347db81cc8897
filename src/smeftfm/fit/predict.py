"""The one adapter between a dataset's declared phase space and the oracle.

Everything the fit needs from the physics package goes through :func:`dataset_templates`: it builds an
:class:`~smeftfm.physics.oracle.Oracle` at the dataset's sqrt(s) with its lepton cuts (or none) and returns the
binned morphing templates dsigma/dm_ll in pb/GeV of exactly the measured bins.
"""

from __future__ import annotations

import numpy as np

from ..errors import SmeftfmError
from ..physics.constants import EWInputs
from ..physics.kinematics import Acceptance
from ..physics.morphing import Order
from ..physics.oracle import Binning, Oracle, QuadratureSpec, Templates
from .measurements import DatasetPhaseSpace


def check_computable(ps: DatasetPhaseSpace, edges: np.ndarray, name: str) -> None:
    """Raise one clear error when the oracle cannot predict this phase space (it knows LO pp -> l+ l-, dsigma/dm_ll)."""
    if ps.observable != "mll":
        raise SmeftfmError(
            f"dataset {name}: the oracle cannot compute observable '{ps.observable}' in a dataset's own phase space; "
            "it predicts dsigma/dm_ll (observable: mll) with or without symmetric lepton cuts"
        )
    if ps.lepton_flavour != "single":
        raise SmeftfmError(
            f"dataset {name}: lepton_flavour '{ps.lepton_flavour}' is not computable; the oracle gives the cross "
            "section of one lepton flavour (lepton_flavour: single); divide a sum over flavours by their number"
        )
    if not ps.sqrt_s > 2 * edges[-1]:
        raise SmeftfmError(
            f"dataset {name}: sqrt(s) = {ps.sqrt_s} GeV cannot produce m_ll up to {edges[-1]} GeV; check sqrt_s_gev"
        )
    if ps.pt_min is not None and ps.pt_min >= edges[-1] / 2:
        raise SmeftfmError(f"dataset {name}: pt_min {ps.pt_min} GeV leaves no phase space below {edges[-1]} GeV")


def dataset_oracle(ps: DatasetPhaseSpace, edges: np.ndarray, operators, pdf="CT18LO", pdf_member: int = 0,
                   lambda_np: float = 1000.0) -> Oracle:
    """An oracle at the dataset's sqrt(s) and cuts; the acceptance's mass window spans the binning."""
    ew = EWInputs(sqrt_s=ps.sqrt_s, lambda_np=lambda_np)
    acc = Acceptance(
        eta_max=ps.eta_max if ps.eta_max is not None else 2.5,
        pt_min=ps.pt_min if ps.pt_min is not None else 0.0,
        m_lo=float(edges[0]),
        m_hi=float(edges[-1]),
    )
    return Oracle(operators=operators, pdf=pdf, pdf_member=pdf_member, ew=ew, acceptance=acc)


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
    edges = np.asarray(edges, dtype=np.float64)
    check_computable(ps, edges, name)
    oracle = dataset_oracle(ps, edges, operators, pdf, pdf_member, lambda_np)
    binning = Binning("mll", edges)
    per_bin = oracle._mll_bins(binning, order, spec, cuts=not ps.full)
    meta = {"sqrt_s": ps.sqrt_s, "pt_min": ps.pt_min, "eta_max": ps.eta_max, "pdf": f"{oracle.pdf.name}/{pdf_member}",
            "lambda_np": lambda_np, "dataset": name}
    return Templates((binning,), oracle.operators, order, per_bin / binning.widths, meta)

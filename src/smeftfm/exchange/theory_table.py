"""Export of the oracle's binned templates in smefit's theory-table layout (the POPxf fallback).

POPxf (the LHC EFT working group's polynomial-prediction format) is validated against JSON schemas that the
``popxf-validator`` 0.0.1 wheel does not ship, so it cannot be checked offline; we write smefit's theory-table layout
instead, which other fitters read: a JSON object with ``best_sm`` (SM per bin), ``theory_cov`` (bins x bins),
``scales`` and a block ``LO`` holding ``SM``, one list per operator (the O(Lambda^-2) interference) and, at quadratic
order, ``"<a>*<b>"`` lists (the O(Lambda^-4) terms, cross terms including their factor 2), so that

    prediction = SM + sum_k C_k LO[k] + sum_{a<=b} C_a C_b LO["a*b"]     (C at Lambda, GeV and pb/GeV as stated)

A ``metadata`` block records units (pb/GeV), Lambda, sqrt(s), cuts, PDF and the binning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import write_json
from ..physics.oracle import Templates

__all__ = ["predict_from_table", "theory_table", "write_theory_table"]


def theory_table(t: Templates, theory_cov: np.ndarray | None = None) -> dict:
    """The smefit-layout dictionary of templates ``t`` (values per bin in pb/GeV)."""
    lo: dict[str, list[float]] = {}
    for name, row in zip(t.terms, t.values):
        if name == "SM":
            key = "SM"
        elif name.startswith("lin:"):
            key = name[4:]
        else:
            key = name[5:]
        lo[key] = [float(x) for x in row]
    n = t.n_bins
    cov = np.zeros((n, n)) if theory_cov is None else np.asarray(theory_cov)
    edges = [b.edges.tolist() for b in t.binnings]
    return {
        "best_sm": lo["SM"],
        "theory_cov": cov.tolist(),
        "scales": [-1.0] * n,
        "LO": lo,
        "metadata": {"units": "pb/GeV", "order": t.order, "operators": list(t.operators),
                     "observables": [b.observable for b in t.binnings], "edges_gev": edges,
                     "generator": "smeftfm analytic LO oracle (SMEFTsim 3.0 U35, m_W scheme)", **t.meta},
    }


def write_theory_table(path: str | Path, t: Templates, theory_cov: np.ndarray | None = None) -> None:
    write_json(path, theory_table(t, theory_cov))


def predict_from_table(table: dict, coeffs: dict[str, float]) -> np.ndarray:
    """Evaluate a theory table at ``coeffs`` (used to check the export against :meth:`Templates.predict`)."""
    lo = table["LO"]
    y = np.array(lo["SM"], dtype=float)
    for key, row in lo.items():
        if key == "SM":
            continue
        parts = key.split("*")
        f = np.prod([coeffs.get(p, 0.0) for p in parts])
        y = y + f * np.array(row)
    return y

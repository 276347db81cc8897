"""Theory spectra y(C) of the universes from the morphing templates (92 bins per universe, pb/GeV).

y(C) = SM + sum_k C_k lin_k (+ sum_{a<=b} C_a C_b quad_ab at quadratic order). The linear truncation can give
negative bins for large coefficients; such universes are flagged (``has_negative``) and kept unchanged; nothing
is clipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..physics.morphing import Order
from ..physics.observables import histogram_columns
from ..physics.oracle import Templates
from .universes import align_coefficients, operator_columns

__all__ = ["spectra_frame", "spectra_meta", "universe_spectra"]


def universe_spectra(universes: pd.DataFrame, templates: Templates, order: Order) -> np.ndarray:
    """Spectra [n_universes, n_bins] (pb/GeV) for every row of a universes table."""
    ops = operator_columns(universes)
    coeffs = align_coefficients(ops, universes[ops].to_numpy(dtype=np.float64), templates.operators, order)
    return templates.predict(coeffs, order=order)


def spectra_frame(universes: pd.DataFrame, templates: Templates, order: Order) -> pd.DataFrame:
    """The ``data/spectra.parquet`` table: universe, label, has_negative, then one float64 column per bin."""
    y = universe_spectra(universes, templates, order)
    head = pd.DataFrame(
        {
            "universe": universes["universe"].to_numpy(),
            "label": universes["label"].to_numpy(dtype=np.int32),
            "has_negative": (y < 0).any(axis=1),
        }
    )
    return pd.concat([head, pd.DataFrame(y, columns=histogram_columns(templates.binnings))], axis=1)


def spectra_meta(templates: Templates, order: Order, operators: list[str]) -> dict:
    """Schema metadata: bin edges per observable (GeV), operators, order, units, templates sha."""
    return {
        "edges": {b.observable: b.edges.tolist() for b in templates.binnings},
        "operators": list(operators),
        "template_operators": list(templates.operators),
        "order": order,
        "units": "pb/GeV",
        "templates_sha256": templates.meta.get("sha256"),
    }

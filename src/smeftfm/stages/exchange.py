"""Thin wiring of the exchange formats: WCxf points -> spectra, universes -> WCxf, templates -> theory tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from ..data.templates_io import read_templates
from ..data.universes import operator_columns
from ..errors import SmeftfmError
from ..exchange.theory_table import write_theory_table
from ..exchange.wcxf_io import coefficients_vector, read_wcxf, write_wcxf

__all__ = ["spectrum_from_wcxf", "templates_to_table", "universe_to_wcxf"]


def _lambda(templates) -> float:
    return float(templates.meta.get("lambda_np", 1000.0))


def spectrum_from_wcxf(wc_path: Path, templates_path: Path, out: Path, order: str | None = None) -> pd.DataFrame:
    """The binned spectra (pb/GeV) of a custom universe given as a WCxf file, written as CSV."""
    t = read_templates(templates_path)
    coeffs, meta = read_wcxf(wc_path, _lambda(t))
    c = coefficients_vector(coeffs, t.operators)
    y = t.predict(c, order or t.order)
    sm = t.term("SM")
    rows = []
    start = 0
    for b in t.binnings:
        sl = slice(start, start + b.n)
        rows.append(pd.DataFrame({"observable": b.observable, "bin_lo": b.edges[:-1], "bin_hi": b.edges[1:],
                                  "sm_pb_per_gev": sm[sl], "value_pb_per_gev": y[sl], "ratio_to_sm": y[sl] / sm[sl]}))
        start += b.n
    df = pd.concat(rows, ignore_index=True)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    return df


def universe_to_wcxf(universes_path: Path, universe: str, out: Path, lambda_np: float = 1000.0) -> dict:
    """Write one universe (by name, e.g. U003, or SM) of ``data/universes.parquet`` as a WCxf file."""
    df = pd.read_parquet(universes_path)
    row = df[df["universe"] == universe]
    if row.empty:
        raise SmeftfmError(f"no universe '{universe}' in {universes_path}; names are SM, U000, U001, ...")
    ops = operator_columns(df)
    coeffs = {o: float(row[o].iloc[0]) for o in ops if float(row[o].iloc[0]) != 0.0}
    write_wcxf(out, coeffs, lambda_np)
    return coeffs


def templates_to_table(templates_path: Path, out: Path) -> None:
    """Export templates (any binning the templates stage or the fit computed) in smefit's theory-table layout."""
    t = read_templates(templates_path)
    write_theory_table(out, t, np.zeros((t.n_bins, t.n_bins)))

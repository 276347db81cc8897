"""The README's overview figure, computed by the oracle: ``python -m smeftfm.reports.overview docs/img/overview.png``.

Top: the SM dσ/dm_ll in the acceptance and a few SMEFT universes (one operator at a time, Λ = 1 TeV);
bottom: their ratio to the SM. Takes a few seconds (linear templates of three operators).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..physics.oracle import DEFAULT_BINNINGS, Oracle
from .common import PALETTE, SM_COLOR, Figure, new_figure, save_figure, step
from .figures_physics import XLABEL, YLABEL

__all__ = ["CASES", "main", "overview_figure"]

#: (label, operator, coefficient) drawn in the overview.
CASES = (("clq3 = +0.15", "clq3", 0.15), ("clq3 = -0.15", "clq3", -0.15), ("ceu = -0.3", "ceu", -0.3),
         ("cHWB = +1", "cHWB", 1.0))


def overview_figure(oracle: Oracle | None = None) -> Figure:
    """SM and single-operator universes in dσ/dm_ll (pb/GeV), with their ratio to the SM."""
    ops = tuple(dict.fromkeys(op for _, op, _ in CASES))
    oracle = oracle or Oracle(operators=ops)
    t = oracle.binned_templates("linear", DEFAULT_BINNINGS[:1])
    edges = DEFAULT_BINNINGS[0].edges
    sm = t.term("SM")
    fig, axes = new_figure(nrows=2, width=6.0, height=2.4, sharex="col", gridspec_kw={"height_ratios": [2, 1]})
    top, bot = axes[0, 0], axes[1, 0]
    step(top, edges, sm, color=SM_COLOR, lw=1.8, label="SM")
    for k, (label, op, c) in enumerate(CASES):
        coeffs = np.array([c if o == op else 0.0 for o in t.operators])
        y = t.predict(coeffs)
        step(top, edges, y, color=PALETTE[k], lw=1.0, label=label)
        step(bot, edges, y / sm, color=PALETTE[k], lw=1.0)
    bot.axhline(1.0, color=SM_COLOR, lw=1.0)
    top.set_yscale("log")
    top.set_ylabel(YLABEL["mll"])
    top.legend(frameon=False, fontsize=8, ncol=2, title="pp → μ⁺μ⁻, 13 TeV, LO, |η|<2.5, p_T>10 GeV",
               title_fontsize=8)
    bot.set_ylabel("ratio to SM")
    bot.set_xlabel(XLABEL["mll"])
    return Figure("overview", "SMEFT universes in Drell–Yan",
                  "Four-fermion operators bend the high-mass tail, vertex operators act at the Z pole.", fig)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a tiny command-line wrapper
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0] if args else "docs/img/overview.png")
    f = overview_figure()
    f.name = target.stem
    print(save_figure(f, target.parent, dpi=100))


if __name__ == "__main__":  # pragma: no cover
    main()

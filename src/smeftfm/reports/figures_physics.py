"""Oracle and input figures: SM spectra and per-operator ratios (paper Fig. 3), the universes' input
spectra against the SM (Fig. 5), and the operator screening table.

All spectra are differential cross sections in pb/GeV; masses and momenta in GeV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps

from ..errors import SmeftfmError
from ..physics.observables import REGISTRY
from ..physics.operators import get_operator
from .common import SM_COLOR, Figure, Table, fmt, new_figure, require_shape, step


class _RegistryLabels(Mapping):
    """Read-only view ``observable name -> axis label`` of the observable registry (looked up at use)."""

    def __init__(self, attribute: str):
        self.attribute = attribute

    def __getitem__(self, name: str) -> str:
        if name not in REGISTRY:
            raise KeyError(name)
        return getattr(REGISTRY[name], self.attribute)

    def __iter__(self):
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


#: Axis labels per observable (units in brackets), from :mod:`smeftfm.physics.observables`.
XLABEL: Mapping[str, str] = _RegistryLabels("label")
YLABEL: Mapping[str, str] = _RegistryLabels("density_label")


def _split(y: np.ndarray, edges: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Split the concatenated bins ``y[..., B]`` into one array per observable (in ``edges`` order)."""
    out, start = {}, 0
    for obs, e in edges.items():
        n = len(e) - 1
        out[obs] = y[..., start : start + n]
        start += n
    if start != y.shape[-1]:
        raise SmeftfmError(f"spectra have {y.shape[-1]} bins but the binnings describe {start}")
    return out


def oracle_sm_figure(sm: np.ndarray, edges: Mapping[str, np.ndarray]) -> Figure:
    """The oracle's SM spectra in acceptance, one panel per observable (log scale)."""
    sm = require_shape("SM spectrum", sm, (None,))
    parts = _split(sm, edges)
    fig, axes = new_figure(ncols=len(parts))
    for ax, (obs, y) in zip(axes[0], parts.items(), strict=True):
        step(ax, edges[obs], y, color=SM_COLOR, lw=1.5, label="SM (LO, in acceptance)")
        ax.set_yscale("log")
        ax.set_xlabel(XLABEL.get(obs, f"{obs} [GeV]"))
        ax.set_ylabel(YLABEL.get(obs, "[pb/GeV]"))
        ax.legend(frameon=False)
    m_peak = _peak(parts.get("mll"), edges.get("mll"))
    pt_peak = _peak(parts.get("pt"), edges.get("pt"))
    return Figure(
        "oracle_sm", "Oracle: Standard-Model spectra",
        f"SM dσ/dm_ll peaks in the {m_peak} GeV bin (the Z pole at 91.2 GeV) and dσ/dp_T in the {pt_peak} GeV bin "
        "(the Jacobian peak near m_Z/2); every universe below is a deformation of these curves.",
        fig)


def _peak(y: np.ndarray | None, edges: np.ndarray | None) -> str:
    """The bin holding the maximum of ``y``, as "[lo, hi]" (GeV)."""
    if y is None or edges is None:
        return "–"
    i = int(np.argmax(y))
    return f"[{fmt(edges[i])}, {fmt(edges[i + 1])}]"


def operator_ratio_figure(sm: np.ndarray, linear: Mapping[str, np.ndarray], edges: Mapping[str, np.ndarray],
                          coefficient: float = 1.0) -> Figure:
    """Ratio (SM + C·lin_op)/SM at C = ``coefficient`` for every operator (paper Fig. 3).

    Rows: four-fermion operators (top) and vertex/input operators (bottom); columns: observables.
    ``linear`` maps operator name to its interference template ``[B]`` in pb/GeV (per unit C, Λ = 1 TeV).
    """
    sm = require_shape("SM spectrum", sm, (None,))
    if not linear:
        raise SmeftfmError("no linear templates to plot; the templates file holds only the SM term")
    groups: dict[str, list[str]] = {"four-fermion": [], "vertex / input": []}
    for op in linear:
        key = "four-fermion" if get_operator(op).structure == "four_fermion_vector" else "vertex / input"
        groups[key].append(op)
    groups = {k: v for k, v in groups.items() if v}
    sm_parts = _split(sm, edges)
    fig, axes = new_figure(ncols=len(sm_parts), nrows=len(groups), height=3.4)
    cmap = colormaps["tab20"]
    for r, (gname, ops) in enumerate(groups.items()):
        for c, obs in enumerate(sm_parts):
            ax = axes[r, c]
            for k, op in enumerate(ops):
                lin = _split(require_shape(f"lin:{op}", linear[op], sm.shape), edges)[obs]
                ratio = 1.0 + coefficient * lin / np.where(sm_parts[obs] != 0, sm_parts[obs], np.nan)
                step(ax, edges[obs], ratio, color=cmap(k % 20), lw=1.2, label=op)
            ax.axhline(1.0, color=SM_COLOR, lw=0.8, ls=":")
            ax.set_xlabel(XLABEL.get(obs, obs))
            ax.set_ylabel(f"(SM + C·lin)/SM, C = {coefficient:g}")
            ax.set_title(f"{gname} operators", fontsize=10)
            if c == len(sm_parts) - 1:
                ax.legend(fontsize=7, ncol=2, frameon=False, loc="best")
    return Figure(
        "oracle_ratios", "Oracle: per-operator ratio to the SM (Fig. 3)",
        f"Each operator alone at C = {coefficient:g} (Λ = 1 TeV): four-fermion ratios grow with m_ll above the "
        "pole (∝ m_ll²), vertex/input operators act near the Z pole and stay flat at high mass.",
        fig)


def universe_spectra_figure(spectra: np.ndarray, sm: np.ndarray, edges: Mapping[str, np.ndarray],
                            names: Sequence[str] | None = None) -> Figure:
    """Input spectra of all universes against the SM (paper Fig. 5): spectra (top) and ratio to SM (bottom)."""
    sm = require_shape("SM spectrum", sm, (None,))
    y = require_shape("universe spectra", spectra, (None, sm.shape[0]))
    yp, smp = _split(y, edges), _split(sm, edges)
    fig, axes = new_figure(ncols=len(smp), nrows=2, height=3.2, sharex="col",
                           gridspec_kw={"height_ratios": [2, 1]})
    cmap = colormaps["viridis"]
    colors = cmap(np.linspace(0, 1, max(len(y), 1)))
    n_neg = int(np.any(y <= 0, axis=1).sum())
    lw = 0.5 if len(y) > 30 else 1.0
    for c, obs in enumerate(smp):
        top, bot = axes[0, c], axes[1, c]
        ratio = yp[obs] / np.where(smp[obs] != 0, smp[obs], np.nan)
        for i in range(len(y)):  # one line per universe (n <= a few hundred): plotting, not a hot path
            step(top, edges[obs], np.where(yp[obs][i] > 0, yp[obs][i], np.nan), color=colors[i], lw=lw,
                 alpha=0.6)
            step(bot, edges[obs], ratio[i], color=colors[i], lw=lw, alpha=0.6)
        step(top, edges[obs], smp[obs], color=SM_COLOR, lw=1.8, label="SM")
        bot.axhline(1.0, color=SM_COLOR, lw=1.2)
        top.set_yscale("log")
        top.set_ylabel(YLABEL.get(obs, "[pb/GeV]"))
        top.legend(frameon=False, title=f"{len(y)} universes")
        bot.set_ylabel("ratio to SM")
        bot.set_xlabel(XLABEL.get(obs, obs))
        lo, hi = np.nanpercentile(ratio, [1, 99]) if np.isfinite(ratio).any() else (0.5, 1.5)
        bot.set_ylim(min(lo, 0.9) - 0.05, max(hi, 1.1) + 0.05)
    neg = f" {n_neg} universe(s) have a non-positive bin (linear truncation) and are drawn with gaps." if n_neg else ""
    return Figure(
        "universe_spectra", "Inputs: universes against the SM (Fig. 5)",
        "The spread of the universes around the SM (black) is what the encoder must organise: deviations grow in "
        "the high-mass and high-p_T tails." + neg,
        fig)


def screening_table(screen: Mapping[str, Mapping]) -> Table:
    """The PRAXIS screening verdict per catalog operator, interfering ones first, by decreasing effect."""
    if not screen:
        raise SmeftfmError("the screening output is empty; re-run `smeftfm screen`")
    try:
        order = sorted(screen, key=lambda k: (not screen[k]["interferes"], -float(screen[k]["rel_effect"]), k))
        rows = [[op, "yes" if screen[op]["interferes"] else "no", str(screen[op].get("tier", "")),
                 str(screen[op].get("power_counting", "")), fmt(float(screen[op]["rel_effect"])),
                 fmt(float(screen[op].get("rel_effect_integrated", np.nan))), str(screen[op].get("reason", ""))]
                for op in order]
    except KeyError as err:
        raise SmeftfmError(f"screening output lacks the field {err}; re-run `smeftfm screen`") from None
    n_int = sum(bool(screen[k]["interferes"]) for k in screen)
    return Table(
        "screening", "Operator screening (PRAXIS, analytic)",
        f"{n_int} of {len(screen)} operators interfere with the SM at O(1/Λ²) and enter the templates; the rest "
        "are listed with the reason they drop out. 'max |δ|/SM' is the largest per-bin relative effect at C = 1.",
        ["operator", "interferes", "tier", "power counting", "max |δ|/SM (bin)", "|δσ|/σ (integrated)", "reason"],
        rows)


__all__ = ["oracle_sm_figure", "operator_ratio_figure", "universe_spectra_figure", "screening_table"]

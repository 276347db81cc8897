"""ALETHEIA figures: the sigma_1 timeline with psi-extension and unlock events, the Table-2-style cycle table,
and the ManifoldInformer probe R².

The trace is the per-cycle table the ``loop`` stage writes (one row per cycle and run; columns ``cycle, tier,
psi_dim, sigma1_pre, sigma1_post, sigma_ratio, action`` and, when several runs are stored, ``arm, extension,
seed``; optional ``sigma1_val_pre/post`` on the validation probe set and ``events`` = comma-joined span events).
sigma_1 is the leading singular value of the residual operator R (units of the per-event log-likelihood ratio
times sqrt(events), see ``docs/aletheia.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import SmeftfmError
from ..loop.paper import PAPER
from .common import PALETTE, Figure, Table, fmt, legend_figure, new_figure

__all__ = ["MAIN_EXTENSION", "TRACE_COLUMNS", "check_trace", "cycle_table", "main_run", "paper_comparison_table",
           "probe_r2_figure", "runs", "sigma_timeline_figure"]

TRACE_COLUMNS = ("cycle", "psi_dim", "sigma1_pre", "sigma1_post", "action")
MAIN_EXTENSION = "dictionary"


def check_trace(trace: pd.DataFrame) -> pd.DataFrame:
    """Validate the trace columns; a clear error names the missing ones."""
    missing = [c for c in TRACE_COLUMNS if c not in trace.columns]
    if missing:
        raise SmeftfmError(f"loop trace lacks columns {missing}; re-run `smeftfm loop`")
    if trace.empty:
        raise SmeftfmError("loop trace is empty; re-run `smeftfm loop`")
    return trace


def runs(trace: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Split the trace into runs keyed by ``run`` or (arm, extension, seed) (missing columns count as one)."""
    keys = ["run"] if "run" in trace.columns else [c for c in ("arm", "extension", "seed") if c in trace.columns]
    if not keys:
        return {("main",): trace.sort_values("cycle")}
    return {k if isinstance(k, tuple) else (k,): g.sort_values("cycle") for k, g in trace.groupby(keys, sort=True)}


def main_run(trace: pd.DataFrame, arm: str | None = None) -> pd.DataFrame:
    """The headline run: the rows with ``run == "headline"`` when the trace names its runs (and no ``arm`` is
    asked for), else the given (or the first non-random) arm with the dictionary extension and the lowest seed."""
    check_trace(trace)
    t = trace
    if arm is None and "run" in t.columns and (t["run"] == "headline").any():
        return t[t["run"] == "headline"].sort_values("cycle")
    if "extension" in t.columns and (t["extension"] == MAIN_EXTENSION).any():
        t = t[t["extension"] == MAIN_EXTENSION]
    if "arm" in t.columns:
        arms = list(dict.fromkeys(t["arm"]))
        pick = arm if arm in arms else next((a for a in arms if a != "random"), arms[0])
        t = t[t["arm"] == pick]
    if "seed" in t.columns:
        t = t[t["seed"] == t["seed"].min()]
    return t.sort_values("cycle")


def _has_event(df: pd.DataFrame, name: str) -> np.ndarray:
    hit = (df["action"] == name).to_numpy()
    if "events" in df.columns:
        hit = hit | df["events"].fillna("").astype(str).str.split(",").apply(lambda ev: name in ev).to_numpy()
    return hit


def sigma_timeline_figure(trace: pd.DataFrame, floor: float, arm: str | None = None) -> Figure:
    """sigma_1 before and after each cycle's extension (log scale) with the completion floor, psi-extension
    and tier-unlock markers for the headline run; other runs (random arm, controls) as thin lines."""
    check_trace(trace)
    main = main_run(trace, arm)
    fig, axes = new_figure(width=7.6, height=4.2)
    ax = axes[0, 0]
    for k, (key, g) in enumerate(runs(trace).items()):
        if g.index.equals(main.index):
            continue
        ax.plot(g["cycle"], g["sigma1_post"], color=PALETTE[(k + 4) % len(PALETTE)], lw=0.9, alpha=0.7,
                label="/".join(str(x) for x in key) + " (post)")
    c = main["cycle"].to_numpy()
    ax.plot(c, main["sigma1_pre"], "o-", color=PALETTE[0], ms=4, lw=1.2, label="σ₁ pre (probe)")
    ax.plot(c, main["sigma1_post"], "s-", color=PALETTE[1], ms=4, lw=1.5, label="σ₁ post (probe)")
    if "sigma1_val_post" in main.columns:
        ax.plot(c, main["sigma1_val_post"], "--", color=PALETTE[1], lw=1.0, label="σ₁ post (validation probe)")
    ax.axhline(floor, color="k", ls=":", lw=1.0, label=f"floor τ = {floor:g}")
    for i, cyc in enumerate(c[_has_event(main, "psi_extend")]):
        ax.axvline(cyc, color=PALETTE[2], lw=0.8, alpha=0.6, label="ψ-extend" if i == 0 else None)
    for i, cyc in enumerate(c[_has_event(main, "unlock_tier")]):
        ax.axvline(cyc, color=PALETTE[3], lw=2.0, ls="--", label="unlock tier" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("cycle (one acquired working point each)")
    ax.set_ylabel("σ₁ of the residual operator R")
    return legend_figure(
        fig, ax, "loop_sigma1", "ALETHEIA: σ₁ timeline",
        "Each ψ-extension (green) should collapse σ₁ from 'pre' to 'post' by a large factor, σ₁ should then stay "
        "under the floor, and the tier unlock (orange) should trigger no further extension.",
        loc="upper right", ncol=2)


def cycle_table(trace: pd.DataFrame, arm: str | None = None) -> Table:
    """The headline run in the paper's Table-2 format: cycle, ψ-dim, σ₁ pre/post, σ₁/σ₂, action."""
    main = main_run(trace, arm)
    ratio = main["sigma_ratio"] if "sigma_ratio" in main.columns else pd.Series(np.nan, index=main.index)
    tier = main["tier"] if "tier" in main.columns else pd.Series("", index=main.index)
    val = main["sigma1_val_post"] if "sigma1_val_post" in main.columns else pd.Series(np.nan, index=main.index)
    rows = [[fmt(int(r.cycle)), str(t), fmt(int(r.psi_dim)), fmt(r.sigma1_pre), fmt(r.sigma1_post), fmt(v),
             fmt(q if q is not None and np.isfinite(q) and q >= 0 else None), str(r.action)]
            for r, t, q, v in zip(main.itertuples(), tier, ratio, val, strict=True)]
    name = f" ({main['arm'].iloc[0]} arm)" if "arm" in main.columns else ""
    return Table("loop_cycles", f"ALETHEIA cycle table{name}",
                 "Our run in the format of the paper's Table 2; 'pre' is after acquiring the working point, 'post' "
                 "after the ψ-extension (equal when none happened).",
                 ["cycle", "tier", "ψ dim", "σ₁ pre", "σ₁ post", "σ₁ post (val.)", "σ₁/σ₂", "action"], rows)


def paper_comparison_table(collapse: Mapping[str, float | None], cycles: Mapping[str, float | None],
                           unlock_extension: bool | None) -> Table:
    """Our headline ALETHEIA numbers beside the paper's Table 2."""
    rows = [["σ₁ collapse at the first extension", fmt(PAPER["collapse_first"]), fmt(collapse.get("first"))],
            ["σ₁ collapse over all extensions", fmt(PAPER["collapse_overall"]), fmt(collapse.get("overall"))],
            ["number of extensions", "4", fmt(collapse.get("n_extensions"))],
            ["unlocking the vertex tier triggers an extension", "no",
             "–" if unlock_extension is None else ("yes" if unlock_extension else "no")]]
    rows += [[f"cycles to completion ({arm.replace('_', ' ')})", "10" if arm == "residual_energy" else "–", fmt(v)]
             for arm, v in cycles.items()]
    return Table("loop_vs_paper", "ALETHEIA: ours vs the paper",
                 "Where the numbers differ, docs/aletheia.md explains why; the floor and thresholds are not tuned to "
                 "the paper.", ["quantity", "paper", "this run"], rows)


def probe_r2_figure(r2: Mapping[str, Sequence[float]]) -> Figure:
    """ManifoldInformer linear-probe R² per morphing term (tangents ``lin:*``, curvatures ``quad:*``): median
    over seeds (bar) and the per-seed values (dots)."""
    if not r2:
        raise SmeftfmError("no probe R² values to plot; re-run the informer stage")
    names = list(r2)
    fig, axes = new_figure(width=max(5.0, 0.45 * len(names) + 2), height=3.6)
    ax = axes[0, 0]
    for i, n in enumerate(names):
        v = np.asarray(r2[n], float)
        col = PALETTE[0] if n.startswith("lin") or n.startswith("tan") else PALETTE[1]
        ax.bar(i, np.nanmedian(v) if v.size else np.nan, color=col, alpha=0.7)
        ax.scatter(np.full(v.size, i), v, color="k", s=8, zorder=3)
    ax.axhline(0.99, color="k", ls=":", lw=0.8, label="R² = 0.99 (acceptance)")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    lo = min(0.0, float(np.nanmin([np.nanmin(np.asarray(v, float)) for v in r2.values()] or [0])))
    ax.set_ylim(max(lo, -1.0), 1.02)
    clipped = " Axis clipped at R² = −1 (worse values run off the bottom)." if lo < -1.0 else ""
    ax.set_ylabel("probe R² (held-out probe events)")
    ax.legend(frameon=False, fontsize=8)
    return Figure(
        "informer_probe", "ManifoldInformer: linear-probe recovery of the morphing geometry",
        "Blue: tangents (lin terms / SM), red: curvatures; bars are medians over seeds, dots single seeds — the "
        "tangent median must reach 0.99." + clipped,
        fig)

"""Report items of the scorecard: the table (optimum, encoder, baselines) and the anomaly strength scans."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .common import PALETTE, Figure, Table, fmt, panels_figure, plt

__all__ = ["null_band_figure", "scorecard_table", "strength_scan_figure"]

METHOD_STYLE = {"optimal": ("k", "-", "likelihood ratio (optimum)"), "gof": ("k", "--", "χ² / deviance GoF"),
                "encoder": (PALETTE[1], "-", "encoder"), "lda": (PALETTE[0], ":", "LDA"),
                "pca": (PALETTE[2], ":", "PCA"), "pca_whitened": (PALETTE[3], ":", "whitened PCA")}


def scorecard_table(card: Mapping[str, Mapping | None], details: Mapping) -> Table:
    """One row per configuration and figure of merit: optimum, encoder and the baselines side by side."""
    rows = []
    for name, entry in card.items():
        if entry is None:
            rows.append([name, "did not run", "–", "–", "–", "–", "–"])
            continue
        det = details.get(name) or {}
        bases = det.get("baselines") or {}
        for sig, per in entry["anomaly"].items():
            for key, v in per.items():
                b = {m: (bases.get(m) or {}).get("anomaly", {}).get(sig, {}).get(key) for m in ("lda", "pca",
                                                                                            "pca_whitened")}
                unit = ((details.get("strengths") or {}).get(sig, {}).get(key) or {}).get("units", "")
                rows.append([name, f"anomaly AUROC {sig} @ {key} {unit}", fmt(v["auroc_optimal"]),
                             fmt(v["auroc_gof"]), fmt(v["auroc"]), fmt(b["lda"]), fmt(b["pca_whitened"])])
        for lvl, v in entry["retrieval"].items():
            b = {m: (((bases.get(m) or {}).get("retrieval") or {}).get("contour") or {}).get(lvl, {}).get("f1")
                 for m in ("lda", "pca_whitened")}
            inp = (det.get("input_retrieval") or {}).get(lvl, {}).get("f1")
            rows.append([name, f"retrieval F1 {lvl} (n_true {v['n_true']})", "1", fmt(inp), fmt(v["f1"]),
                         fmt(b["lda"]), fmt(b["pca_whitened"])])
        r2 = entry["coefficient_r2_unseen"]
        rows.append([name, "Wilson-coefficient probe R² (unseen)", "–", "–", fmt(r2["encoder"]), fmt(r2["lda"]),
                     fmt(r2["pca_whitened"])])
        k = entry["knn_seen"]
        rows.append([name, "k-NN accuracy (seen universes)", "–", "–", fmt(k["encoder"]), fmt(k["lda"]),
                     f"{fmt((bases.get('pca_whitened') or {}).get('knn_seen'))} (PCA {fmt(k['pca'])})"])
    return Table("scorecard_table", "Scorecard: every head against the exact optimum and the baselines",
                 "Scenario " + ", ".join(f"{n}: {e['scenario']}" for n, e in card.items() if e) + ". 'optimum' is "
                 "the signal's likelihood ratio (anomaly) or the exact χ² truth itself (retrieval, F1 = 1); 'input "
                 "statistic' the χ²/deviance GoF test (anomaly) or the χ² of each universe's mean replica "
                 "(retrieval). Unseen universes are drawn with another seed.",
                 ["config", "figure of merit", "optimum", "input statistic", "encoder", "LDA", "whitened PCA"], rows)


def strength_scan_figure(curves: pd.DataFrame, units: Mapping[str, str]) -> Figure:
    """AUROC against signal strength per signal (columns) and configuration (rows), every method."""
    configs = list(dict.fromkeys(curves["config"])) if len(curves) else []
    signals = list(dict.fromkeys(curves["signal"])) if len(curves) else []
    fig, axes = plt.subplots(max(len(configs), 1), max(len(signals), 1), figsize=(3.4 * max(len(signals), 1),
                             2.9 * max(len(configs), 1)), squeeze=False)
    for i, cfg in enumerate(configs):
        for j, sig in enumerate(signals):
            ax = axes[i, j]
            sub = curves[(curves["config"] == cfg) & (curves["signal"] == sig)]
            for method, (c, ls, label) in METHOD_STYLE.items():
                m = sub[sub["method"] == method].sort_values("strength")
                if len(m):
                    ax.plot(m["strength"], m["auroc"], ls, color=c, marker="o", ms=3, label=label)
            ax.set_xscale("log")
            ax.set_ylim(0.45, 1.02)
            ax.axhline(0.5, color="0.7", lw=0.8)
            ax.set_title(f"{cfg}: {sig}", fontsize=9)
            ax.set_xlabel(f"strength ({units.get(sig, '')})", fontsize=8)
            if j == 0:
                ax.set_ylabel("AUROC vs SM replicas", fontsize=8)
    return panels_figure(fig, axes[0, 0] if configs else None, "strength_scan",
                         "Anomaly strength scans with the SM as the null",
                         "Each signal's strength (events at the scenario's luminosity, GeV for the Z shift) is chosen "
                         "so that the goodness-of-fit AUROC (dashed) spans the targets; the encoder's latent "
                         "SM-compatibility score (red) should track it, the likelihood ratio (solid black) is the "
                         "ceiling.")


def null_band_figure(ranges: pd.DataFrame, null: pd.DataFrame, operators: list[str], levels: list[str]) -> Figure:
    """Captured coefficient range per operator and level, beside the band of random subsets of the same size."""
    fig, axes = plt.subplots(1, max(len(levels), 1), figsize=(4.2 * max(len(levels), 1), 0.28 * len(operators) + 1.6),
                             squeeze=False)
    y = np.arange(len(operators))
    for j, lvl in enumerate(levels):
        ax = axes[0, j]
        r = ranges[ranges["level"] == lvl].set_index("operator").reindex(operators)
        n = null[null["level"] == lvl].set_index("operator").reindex(operators)
        ax.barh(y, n["hi"] - n["lo"], left=n["lo"], color="0.85", label="random subsets (5-95 %)")
        ax.plot(r["ratio"], y, "o", color=PALETTE[1], ms=4, label="retrieved")
        ax.set_yticks(y)
        ax.set_yticklabels(operators if j == 0 else [], fontsize=7)
        ax.set_xlim(0, 1.02)
        ax.set_title(lvl, fontsize=9)
        ax.set_xlabel("captured range / full range", fontsize=8)
    return panels_figure(fig, axes[0, 0], "retrieval_null_bands", "Figs. 11-12 with a null band",
                         "Fraction of each Wilson coefficient's range spanned by the retrieved universes (dots) "
                         "against random universe subsets of the same size (grey, 5-95 %): only dots left of the band "
                         "are narrowed beyond chance.")

"""Latent-space figures of the foundation encoder and its heads (paper Figs. 6-12), the training curve and the
encoder-vs-PCA baseline comparison.

Latent coordinates are dimensionless (the encoder's output); when the latent has more than two dimensions the
first two are drawn. Spectra values are in pb/GeV, Wilson coefficients are dimensionless at Λ = 1 TeV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from ..errors import SmeftfmError
from .common import PALETTE, SM_COLOR, Figure, Table, fmt, legend_figure, new_figure, require_shape, step
from .figures_physics import XLABEL

__all__ = ["BASELINE_KEYS", "ZLABEL", "anomaly_figure", "baseline_figure", "baseline_table", "cluster_universes",
           "coefficient_violin_figure", "latent_colour_figure", "radial_ranges_figure", "retrieval_figure",
           "retrieval_table", "training_curve_figure", "traversal_figure", "uncertainty_maps_figure"]

ZLABEL = ("latent $z_0$", "latent $z_1$")


def _latent(name: str, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise SmeftfmError(f"{name}: expected latent coordinates [n, >=2], got shape {z.shape}")
    return z[:, :2]


def latent_colour_figure(z: np.ndarray, colours: Mapping[str, np.ndarray], z_centres: np.ndarray | None = None,
                         max_points: int = 20_000, seed: int = 0) -> Figure:
    """Latent plane coloured by spectrum values (paper Fig. 6), one panel per entry of ``colours``.

    ``z [n, d]`` are replica (or universe) embeddings and ``colours[label] [n]`` the value (pb/GeV, > 0) of one
    bin of each point's spectrum; ``z_centres`` (universe means) are outlined on top. At most ``max_points``
    random points are drawn.
    """
    z = _latent("latent points", z)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(z), size=min(max_points, len(z)), replace=False) if len(z) > max_points else slice(None)
    fig, axes = new_figure(ncols=len(colours), width=4.4, height=3.9)
    for ax, (label, c) in zip(axes[0], colours.items(), strict=True):
        c = require_shape(f"colour '{label}'", c, (len(z),))
        pos = c > 0
        norm = LogNorm(vmin=np.min(c[pos]), vmax=np.max(c[pos])) if pos.any() else None
        zi, ci = z[idx], c[idx]
        sc = ax.scatter(zi[:, 0], zi[:, 1], c=np.where(ci > 0, ci, np.nan), s=3, cmap="viridis", norm=norm,
                        rasterized=True)
        if z_centres is not None:
            zc = _latent("universe centres", z_centres)
            ax.scatter(zc[:, 0], zc[:, 1], s=12, facecolors="none", edgecolors="k", lw=0.5)
        fig.colorbar(sc, ax=ax, label="[pb/GeV]")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(ZLABEL[0])
        ax.set_ylabel(ZLABEL[1])
    return Figure(
        "latent_colours", "Latent plane coloured by physics (Fig. 6)",
        "Smooth colour gradients across the plane mean the encoder orders universes by the Z-peak height, the "
        "sub-peak p_T rate and the high-mass tail; open circles are the universes' mean embeddings.",
        fig)


def cluster_universes(z_centres: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """K-means cluster index of each universe's mean embedding (first two latent dimensions)."""
    from sklearn.cluster import KMeans

    zc = _latent("universe centres", z_centres)
    k = int(min(n_clusters, len(zc)))
    if k < 1:
        raise SmeftfmError("no universes to cluster")
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(zc)


def traversal_figure(z_centres: np.ndarray, spectra: np.ndarray, sm: np.ndarray, mll_edges: np.ndarray,
                     n_clusters: int = 4, seed: int = 0) -> Figure:
    """Groups of universes in the latent plane and their m_ll ratio to the SM (paper Fig. 7).

    ``spectra [n, B]`` are the universes' theory spectra in pb/GeV with the m_ll bins first (``mll_edges``).
    """
    zc = _latent("universe centres", z_centres)
    n_m = len(mll_edges) - 1
    y = require_shape("universe spectra", spectra, (len(zc), None))[:, :n_m]
    sm_m = require_shape("SM spectrum", sm, (None,))[:n_m]
    cl = cluster_universes(zc, n_clusters, seed)
    k = int(cl.max()) + 1
    # order clusters along the first latent axis so that panels read as a traversal of the plane
    order = np.argsort([zc[cl == j, 0].mean() for j in range(k)])
    fig, axes = new_figure(ncols=k + 1, width=3.3, height=3.3)
    ax0 = axes[0, 0]
    ratio = y / np.where(sm_m != 0, sm_m, np.nan)
    lo, hi = np.nanpercentile(ratio, [1, 99])
    for p, j in enumerate(order):
        col = PALETTE[p % len(PALETTE)]
        sel = cl == j
        ax0.scatter(zc[sel, 0], zc[sel, 1], s=14, color=col, label=f"group {p + 1} ({int(sel.sum())})")
        ax = axes[0, p + 1]
        for r in ratio[sel]:  # a handful of universes per panel
            step(ax, mll_edges, r, color=col, lw=0.7, alpha=0.7)
        step(ax, mll_edges, np.nanmedian(ratio[sel], axis=0), color="k", lw=1.5, label="median")
        ax.axhline(1.0, color=SM_COLOR, lw=0.8, ls=":")
        ax.set_ylim(min(lo, 0.9) - 0.05, max(hi, 1.1) + 0.05)
        ax.set_xlabel(XLABEL["mll"])
        ax.set_ylabel("ratio to SM")
        ax.set_title(f"group {p + 1}", fontsize=10, color=col)
    ax0.set_xlabel(ZLABEL[0])
    ax0.set_ylabel(ZLABEL[1])
    ax0.legend(fontsize=7, frameon=False)
    return Figure(
        "latent_traversal", "Traversing the latent plane (Fig. 7)",
        f"K-means groups ({k}) of universe embeddings, ordered along z_0: each group should share one m_ll "
        "behaviour (tail up, tail down, near-SM), i.e. latent distance tracks spectral shape.",
        fig)


def _grid(z0: np.ndarray, z1: np.ndarray, v: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat values over a regular grid (any order) -> (x [nx], y [ny], values [ny, nx])."""
    z0, z1 = np.asarray(z0, float), np.asarray(z1, float)
    x, y = np.unique(z0), np.unique(z1)
    if x.size * y.size != z0.size:
        raise SmeftfmError(f"latent maps: {z0.size} points do not form a regular {x.size} x {y.size} grid")
    grid = np.full((y.size, x.size), np.nan)
    grid[np.searchsorted(y, z1), np.searchsorted(x, z0)] = require_shape(name, v, (z0.size,))
    return x, y, grid


def uncertainty_maps_figure(z0: np.ndarray, z1: np.ndarray, entropy: np.ndarray, mi: np.ndarray,
                            z_centres: np.ndarray, max_entropy: float | None = None) -> Figure:
    """DPN total entropy and mutual information over the latent plane (paper Fig. 8), in nats.

    ``z0, z1, entropy, mi`` are flat arrays over a regular grid (any order).
    """
    zc = _latent("universe centres", z_centres)
    fig, axes = new_figure(ncols=2, width=4.6, height=3.9)
    for ax, (name, v, cmap) in zip(axes[0], (("entropy of the mean", entropy, "magma"),
                                             ("mutual information", mi, "viridis")), strict=True):
        x, y, grid = _grid(z0, z1, v, name)
        pc = ax.pcolormesh(x, y, grid, shading="nearest", cmap=cmap, rasterized=True)
        ax.scatter(zc[:, 0], zc[:, 1], s=6, c="w", edgecolors="k", lw=0.3)
        fig.colorbar(pc, ax=ax, label=f"{name} [nats]")
        ax.set_xlabel(ZLABEL[0])
        ax.set_ylabel(ZLABEL[1])
    extra = f" (maximum ln N = {max_entropy:.2f} nats)" if max_entropy else ""
    return Figure(
        "dpn_maps", "Dirichlet prior network: uncertainty maps (Fig. 8)",
        "Entropy is high between overlapping universes (aleatoric confusion); mutual information should be low on "
        f"the data and rise away from it (epistemic, out-of-distribution){extra}.",
        fig)


def anomaly_figure(injected: Mapping[str, np.ndarray], sm: np.ndarray, edges: Mapping[str, np.ndarray],
                   scores: pd.DataFrame, aurocs: Mapping[str, float] | None = None,
                   entropy_map: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Figure:
    """Anomaly case study (paper Fig. 9): injected spectra / SM, and their embeddings coloured by MI.

    ``injected[signal] [B]`` in pb/GeV; ``scores`` has columns ``signal, z_0, z_1, mi`` (rows with signal
    ``in_distribution`` are the reference test replicas); ``aurocs[signal]`` is the MI AUROC; ``entropy_map``
    = (z0, z1, entropy) on a regular grid is drawn underneath, as in the paper.
    """
    sm = require_shape("SM spectrum", sm, (None,))
    missing = {"signal", "z_0", "z_1", "mi"} - set(scores.columns)
    if missing:
        raise SmeftfmError(f"anomaly scores lack columns {sorted(missing)}; re-run `smeftfm heads`")
    obs = list(edges)
    fig, axes = new_figure(ncols=len(obs) + 1, width=4.2, height=3.6)
    signals = list(injected)
    for c, o in enumerate(obs):
        ax = axes[0, c]
        start = sum(len(edges[p]) - 1 for p in obs[:c])
        sl = slice(start, start + len(edges[o]) - 1)
        for k, sig in enumerate(signals):
            y = require_shape(f"injected '{sig}'", injected[sig], sm.shape)
            step(ax, edges[o], y[sl] / sm[sl], color=PALETTE[k % len(PALETTE)], lw=1.2, label=sig)
        ax.axhline(1.0, color=SM_COLOR, lw=0.8, ls=":")
        ax.set_xlabel(XLABEL.get(o, o))
        ax.set_ylabel("injected / SM")
        if c == 0:
            ax.legend(fontsize=7, frameon=False)
    ax = axes[0, -1]
    if entropy_map is not None:
        x, y, grid = _grid(*entropy_map, "entropy map")
        pc = ax.pcolormesh(x, y, grid, shading="nearest", cmap="Greys", alpha=0.5, rasterized=True)
        fig.colorbar(pc, ax=ax, label="DPN entropy [nats]")
    ref = scores[scores["signal"] == "in_distribution"]
    ax.scatter(ref["z_0"], ref["z_1"], s=2, color="0.7", label="test replicas", rasterized=True)
    for k, sig in enumerate(signals):
        s = scores[scores["signal"] == sig]
        a = f" (AUROC {aurocs[sig]:.2f})" if aurocs and aurocs.get(sig) is not None else ""
        ax.scatter(s["z_0"], s["z_1"], s=3, color=PALETTE[k % len(PALETTE)], label=f"{sig}{a}", rasterized=True)
    ax.set_xlabel(ZLABEL[0])
    ax.set_ylabel(ZLABEL[1])
    return legend_figure(
        fig, ax, "anomaly", "Anomaly case study (Fig. 9)",
        "Injected signals (left: their spectra relative to the SM) should land away from the in-distribution "
        "replicas (grey) where the DPN's mutual information is high; the AUROC of MI per signal is in the legend.",
        markerscale=3)


def retrieval_figure(z_sm: np.ndarray, contours: Mapping[str, np.ndarray], z_centres: np.ndarray,
                     level_of_universe: np.ndarray, levels: Sequence[str]) -> Figure:
    """SM retrieval (paper Fig. 10): SM replica embeddings, the k-sigma contours and the universes inside.

    ``level_of_universe [n]`` is the index into ``levels`` of the tightest contour holding each universe
    (``len(levels)`` when outside all of them).
    """
    zs = _latent("SM replicas", z_sm)
    zc = _latent("universe centres", z_centres)
    lev = np.asarray(level_of_universe, int)
    fig, axes = new_figure(width=5.6, height=4.6)
    ax = axes[0, 0]
    ax.scatter(zc[lev == len(levels), 0], zc[lev == len(levels), 1], s=10, color="0.6", label="outside")
    ax.scatter(zs[:, 0], zs[:, 1], s=2, color=SM_COLOR, alpha=0.3, label="SM replicas", rasterized=True)
    for k, name in enumerate(levels):
        col = PALETTE[k % len(PALETTE)]
        e = np.asarray(contours[name], float)
        ax.plot(e[:, 0], e[:, 1], color=col, lw=1.5, label=f"{name} contour")
        sel = lev == k
        ax.scatter(zc[sel, 0], zc[sel, 1], s=22, color=col, edgecolors="k", lw=0.4,
                   label=f"inside {name} ({int(sel.sum())})")
    ax.set_xlabel(ZLABEL[0])
    ax.set_ylabel(ZLABEL[1])
    return legend_figure(
        fig, ax, "retrieval", "Nearest-neighbour retrieval around the SM (Fig. 10)",
        "Universes inside the SM's 1σ/3σ/6σ latent contours are those the embedding cannot tell from the SM; the "
        "table below checks them against the exact χ² with the full covariance.")


def coefficient_violin_figure(values: pd.DataFrame, operators: Sequence[str], levels: Sequence[str]) -> Figure:
    """Wilson coefficients of the retrieved universes per sigma level against all universes (paper Fig. 11).

    ``values`` has columns ``level, operator, value`` (level ``all`` = the training universes).
    """
    missing = {"level", "operator", "value"} - set(values.columns)
    if missing:
        raise SmeftfmError(f"retrieval coefficients lack columns {sorted(missing)}; re-run `smeftfm heads`")
    groups = ["all", *levels]
    fig, axes = new_figure(width=max(6.0, 0.75 * len(operators) * len(groups) / 2), height=3.8)
    ax = axes[0, 0]
    w = 0.8 / len(groups)
    grouped = {key: g["value"].to_numpy(float) for key, g in values.groupby(["level", "operator"])}
    for gi, lvl in enumerate(groups):
        col = "0.6" if lvl == "all" else PALETTE[(gi - 1) % len(PALETTE)]
        pos, data = [], []
        for oi, op in enumerate(operators):
            v = grouped.get((lvl, op), np.empty(0))
            if v.size >= 2:
                pos.append(oi + (gi - (len(groups) - 1) / 2) * w)
                data.append(v)
        single = [(oi + (gi - (len(groups) - 1) / 2) * w, v[0]) for oi, op in enumerate(operators)
                  for v in [grouped.get((lvl, op), np.empty(0))] if v.size == 1]
        if single:  # one retrieved universe: a violin is undefined, show the point
            ax.scatter(*np.array(single).T, color=col, edgecolors="k", s=25, zorder=3)
        if data:
            parts = ax.violinplot(data, positions=pos, widths=w * 0.95, showextrema=False, showmedians=True)
            for b in parts["bodies"]:
                b.set_facecolor(col)
                b.set_alpha(0.6)
            parts["cmedians"].set_color("k")
        ax.plot([], [], color=col, lw=6, alpha=0.6, label="all universes" if lvl == "all" else f"inside {lvl}")
    ax.set_xticks(range(len(operators)), operators, rotation=45, ha="right")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_ylabel("Wilson coefficient C (Λ = 1 TeV)")
    return legend_figure(
        fig, ax, "retrieval_violins", "Captured Wilson coefficients per σ level (Fig. 11)",
        "Universes retrieved close to the SM should have coefficients narrowed towards 0 for the operators the "
        "spectra constrain (four-fermion), and close to the full spread for the weakly constrained ones.",
        ncol=len(groups))


def radial_ranges_figure(ranges: pd.DataFrame, operators: Sequence[str], levels: Sequence[str]) -> Figure:
    """Captured range / full range of each coefficient per sigma level, on a radial plot (paper Fig. 12).

    ``ranges`` has columns ``level, operator, ratio``.
    """
    missing = {"level", "operator", "ratio"} - set(ranges.columns)
    if missing:
        raise SmeftfmError(f"retrieval ranges lack columns {sorted(missing)}; re-run `smeftfm heads`")
    if len(operators) < 1:
        raise SmeftfmError("radial plot needs at least one operator")
    fig, axes = new_figure(width=5.2, height=5.0, subplot_kw={"projection": "polar"})
    ax = axes[0, 0]
    theta = np.linspace(0, 2 * np.pi, len(operators), endpoint=False)
    closed = np.append(theta, theta[0])
    table = ranges.pivot_table(index="level", columns="operator", values="ratio", aggfunc="first")
    for k, lvl in enumerate(levels):
        r = table.reindex(index=[lvl], columns=list(operators)).to_numpy(float)[0]
        r = np.nan_to_num(r, nan=0.0)
        ax.plot(closed, np.append(r, r[0]), color=PALETTE[k % len(PALETTE)], lw=1.5, label=lvl)
        ax.fill(closed, np.append(r, r[0]), color=PALETTE[k % len(PALETTE)], alpha=0.12)
    ax.set_xticks(theta, operators, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("captured range / full range", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1.2, 1.1))
    return Figure(
        "retrieval_radial", "Constraints from retrieval (Fig. 12)",
        "Radius 1 = the retrieved universes span the whole training range of that coefficient (unconstrained); a "
        "small radius means the SM-like region pins the coefficient.",
        fig)


def training_curve_figure(history: pd.DataFrame) -> Figure:
    """Contrastive train and validation loss per epoch."""
    if "epoch" not in history.columns:
        raise SmeftfmError("training history lacks an 'epoch' column; re-run `smeftfm train`")
    cols = [c for c in history.columns if c.endswith("loss")]
    if not cols:
        raise SmeftfmError("training history has no '*loss' column; re-run `smeftfm train`")
    fig, axes = new_figure(width=5.6, height=3.6)
    ax = axes[0, 0]
    for k, c in enumerate(cols):
        ax.plot(history["epoch"], history[c], marker="o", ms=3, color=PALETTE[k % len(PALETTE)], label=c)
    if "val_loss" in history.columns and history["val_loss"].notna().any():
        best = history.loc[history["val_loss"].idxmin()]
        ax.axvline(best["epoch"], color="k", ls=":", lw=0.8, label=f"best epoch {int(best['epoch'])}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("contrastive loss (eq. 3.19)")
    ax.legend(frameon=False)
    return Figure(
        "training_curve", "Encoder training",
        "Validation loss (held-out replicas) should fall and flatten; early stopping keeps the best epoch (dotted).",
        fig)


BASELINE_KEYS = (("knn_accuracy", "k-NN universe accuracy"), ("silhouette", "silhouette"),
                 ("r2_log_zpeak", "probe R² log Z-peak"), ("r2_mll_highest", "probe R² high-mass bin"),
                 ("r2_C_mean", "probe R² C (mean)"))


def baseline_figure(encoder: Mapping[str, float | None], pca: Mapping[str, float | None]) -> Figure:
    """Encoder against the PCA baseline on the test-replica figures of merit (higher is better)."""
    keys = [(k, lab) for k, lab in BASELINE_KEYS if k in encoder or k in pca]
    if not keys:
        raise SmeftfmError("train metrics hold none of the baseline figures of merit; re-run `smeftfm train`")
    fig, axes = new_figure(width=6.4, height=3.6)
    ax = axes[0, 0]
    x = np.arange(len(keys))
    for j, (name, m) in enumerate((("encoder", encoder), ("PCA", pca))):
        v = np.array([np.nan if m.get(k) is None else float(m[k]) for k, _ in keys])
        ax.bar(x + (j - 0.5) * 0.38, np.nan_to_num(v), width=0.38, color=PALETTE[j], label=name)
    ax.set_xticks(x, [lab for _, lab in keys], rotation=20, ha="right", fontsize=8)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("score on test replicas")
    ax.legend(frameon=False)
    return Figure(
        "baselines", "Encoder vs PCA baseline",
        "Both embeddings have the same dimension and inputs; the encoder must beat PCA on k-NN universe accuracy "
        "(fit on train replicas, scored on test replicas).",
        fig)


def baseline_table(encoder: Mapping[str, float | None], pca: Mapping[str, float | None]) -> Table:
    """Every figure of merit of the two embeddings side by side."""
    keys = sorted(set(encoder) | set(pca), key=lambda k: (not k.startswith(("knn", "sil")), k))
    rows = [[k, fmt(encoder.get(k)), fmt(pca.get(k))] for k in keys]
    return Table("baselines_table", "Embedding figures of merit (test replicas)",
                 "k-NN accuracy and silhouette on universe labels; r2_* are linear-probe R² from the latent to the "
                 "named target (C_<op>: that Wilson coefficient).", ["metric", "encoder", "PCA"], rows)


def retrieval_table(levels: Sequence[Mapping], metrics: Mapping[str, Mapping], names_limit: int = 25) -> Table:
    """Universes inside each sigma level (paper Table 2 of the FM paper) with precision/recall against χ²."""
    rows = []
    for lv in levels:
        key = str(lv["level"])
        m = metrics.get(key, {})
        names = list(lv.get("names", []))
        shown = ", ".join(names[:names_limit]) + (f" … (+{len(names) - names_limit})" if len(names) > names_limit
                                                   else "")
        rows.append([key, fmt(int(lv.get("count", len(names)))), fmt(m.get("n_true")), fmt(m.get("precision")),
                     fmt(m.get("recall")), shown or "none"])
    return Table("retrieval_table", "Universes retrieved per σ level vs exact χ²",
                 "'χ²-compatible' counts universes whose exact χ² against the SM (full 92×92 covariance) is inside "
                 "the same σ level; precision/recall grade the latent retrieval against that truth.",
                 ["level", "retrieved", "χ²-compatible", "precision", "recall", "universes inside"], rows)

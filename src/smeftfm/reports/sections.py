"""The report's content: its inputs (:class:`ReportInputs`, checked and loaded), and one section per pipeline part.

Each ``*_section`` turns the loaded pipeline outputs into a :class:`~smeftfm.reports.common.Section` of figures and
tables; the ``report`` stage (:mod:`smeftfm.stages.report`) only wires them to files.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params
from ..data.parquet_io import read_parquet
from ..data.universes import operator_columns
from ..errors import DataError
from ..physics.observables import select_bin_columns

__all__ = ["DIR_FILES", "FIGURES", "Loaded", "MADE_BY", "ReportInputs", "bin_of", "check_inputs", "constraints_section",
           "heads_section",
           "informer_r2", "latent_section", "load", "loop_plot_frame", "loop_section", "physics_section",
           "report_figures", "scorecard_section"]

_log = logging.getLogger(__name__)

#: The figure files the stage always writes (``<name>.png`` beside ``index.html``); ``dvc.yaml`` lists them.
FIGURES = ("oracle_sm", "oracle_ratios", "universe_spectra", "training_curve", "latent_colours",
           "latent_traversal", "dpn_maps", "anomaly", "retrieval", "retrieval_violins", "retrieval_radial",
           "baselines", "loop_sigma1", "informer_probe", "fit_intervals", "fit_contours", "fit_spectra",
           "fit_lo_vs_data", "strength_scan", "retrieval_null_bands")


@dataclass(frozen=True)
class ReportInputs:
    """Pipeline outputs the report reads (paths relative to the project root)."""

    screen: Path = Path("data/screen/operators.json")
    templates: Path = Path("data/templates/spectra.parquet")
    universes: Path = Path("data/universes.parquet")
    spectra: Path = Path("data/spectra.parquet")
    embeddings: Path = Path("data/embeddings")
    train_metrics: Path = Path("reports/metrics/train.json")
    train_history: Path = Path("reports/plots/train_loss.csv")
    heads: Path = Path("data/heads")
    heads_metrics: Path = Path("reports/metrics/heads.json")
    loop_trace: Path = Path("data/loop/trace.parquet")
    loop_metrics: Path = Path("reports/metrics/loop.json")
    informer_metrics: Path = Path("reports/metrics/informer.json")
    fit: Path = Path("data/fit")
    scorecard_metrics: Path = Path("reports/metrics/scorecard.json")
    scorecard_details: Path = Path("reports/metrics/evaluation.json")
    scorecard: Path = Path("data/scorecard")


#: The stage that makes each input (named in the error when the input is missing).
MADE_BY = {"screen": "screen", "templates": "templates", "universes": "universes", "spectra": "spectra",
           "embeddings": "train", "train_metrics": "train", "train_history": "train", "heads": "heads",
           "heads_metrics": "heads", "loop_trace": "loop", "loop_metrics": "loop", "informer_metrics": "informer",
           "fit": "fit", "scorecard_metrics": "scorecard", "scorecard_details": "scorecard", "scorecard": "scorecard"}

#: Files that must exist inside the directory inputs.
DIR_FILES = {
    "embeddings": ("replicas.parquet", "universes.parquet"),
    "heads": ("latent_maps.parquet", "anomaly_scores.parquet", "injected_spectra.parquet", "sm_embedding.parquet",
              "contours.parquet", "retrieval_universes.parquet", "retrieval_ranges.parquet",
              "retrieval_coefficients.parquet", "retrieval_table.json"),
    "fit": ("results.json", "contours.npz"),
    "scorecard": ("anomaly_curves.parquet",),
}


def check_inputs(inputs: ReportInputs) -> None:
    """Raise one :class:`DataError` listing every missing input file and the stage that makes it."""
    missing: list[str] = []
    stages: list[str] = []
    for f in fields(inputs):
        p = Path(getattr(inputs, f.name))
        inside = DIR_FILES.get(f.name, ())
        gone = [p] if not p.exists() else [p / n for n in inside if not (p / n).exists()]
        if gone:
            missing.append(f"{', '.join(str(q) for q in gone)} (made by the `{MADE_BY[f.name]}` stage)")
            stages.append(MADE_BY[f.name])
    if missing:
        raise DataError("the report needs pipeline outputs that are missing: " + "; ".join(missing)
                        + f". Run `dvc repro` (or `dvc repro {' '.join(dict.fromkeys(stages))}`) first")


def _json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); re-run the stage that writes it") from None


def _cols(df: pd.DataFrame, pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [c for c in df.columns if rx.fullmatch(str(c))]


def bin_of(edges: np.ndarray, x: float, what: str) -> int:
    i = int(np.searchsorted(edges, x, side="right") - 1)
    if not 0 <= i < len(edges) - 1:
        raise DataError(f"report.{what} = {x} GeV is outside the binning [{edges[0]}, {edges[-1]}] GeV; fix params")
    return i


@dataclass
class Loaded:
    """Everything the sections need, read once."""

    edges: dict[str, np.ndarray]
    sm_templates: np.ndarray
    linear: dict[str, np.ndarray]
    screen: dict
    operators: list[str]
    coeffs: np.ndarray
    names: list[str]
    y: np.ndarray
    y_sm: np.ndarray
    has_negative: np.ndarray
    rep: pd.DataFrame
    uni: pd.DataFrame
    train: dict
    history: pd.DataFrame
    heads_metrics: dict
    heads: Path
    trace: pd.DataFrame
    loop: dict
    informer: dict
    fit: dict
    fit_contours: dict


def load(inputs: ReportInputs) -> Loaded:
    """Read every input (after :func:`check_inputs`) and check they describe the same binning and universes."""
    from ..data.templates_io import read_templates

    t = read_templates(inputs.templates)
    edges = {b.observable: np.asarray(b.edges, float) for b in t.binnings}
    spectra = read_parquet(inputs.spectra)
    bins = select_bin_columns(spectra.columns)
    if len(bins) != t.n_bins:
        raise DataError(f"{inputs.spectra} has {len(bins)} bin columns but the templates have {t.n_bins}; "
                        "re-run `dvc repro spectra`")
    spectra = spectra.sort_values("label")
    sm_rows = spectra["label"] < 0
    if sm_rows.sum() != 1:
        raise DataError(f"{inputs.spectra} must hold exactly one SM row (label -1); re-run `dvc repro spectra`")
    univ = read_parquet(inputs.universes).sort_values("label")
    univ = univ[univ["label"] >= 0]
    ops = operator_columns(univ)
    uspec = spectra[~sm_rows]
    if not np.array_equal(uspec["label"].to_numpy(), univ["label"].to_numpy()):
        raise DataError(f"{inputs.spectra} and {inputs.universes} list different universes; re-run `dvc repro`")
    rep = read_parquet(inputs.embeddings / "replicas.parquet")
    uni = read_parquet(inputs.embeddings / "universes.parquet").sort_values("label")
    if not _cols(rep, r"z_\d+"):
        raise DataError(f"{inputs.embeddings}/replicas.parquet has no latent columns z_*; re-run `dvc repro train`")
    trace = read_parquet(inputs.loop_trace)
    return Loaded(
        edges=edges, sm_templates=t.term("SM"), linear={op: t.term(f"lin:{op}") for op in t.operators},
        screen=_json(inputs.screen), operators=ops, coeffs=univ[ops].to_numpy(float),
        names=univ["universe"].astype(str).tolist(), y=uspec[bins].to_numpy(float),
        y_sm=spectra.loc[sm_rows, bins].to_numpy(float)[0],
        has_negative=uspec["has_negative"].to_numpy(bool) if "has_negative" in uspec else np.any(
            uspec[bins].to_numpy() <= 0, axis=1),
        rep=rep, uni=uni, train=_json(inputs.train_metrics), history=pd.read_csv(inputs.train_history),
        heads_metrics=_json(inputs.heads_metrics), heads=Path(inputs.heads), trace=trace,
        loop=_json(inputs.loop_metrics), informer=_json(inputs.informer_metrics),
        fit=_json(Path(inputs.fit) / "results.json"), fit_contours=dict(np.load(Path(inputs.fit) / "contours.npz")))


# ------------------------------------------------------------------------------------------------- sections
def physics_section(d: Loaded, params: Params):
    from .common import Section
    from .figures_physics import operator_ratio_figure, oracle_sm_figure, screening_table, universe_spectra_figure

    rp = params.report
    return Section("oracle", "Oracle, screening and inputs",
                   "Leading-order pp → μ⁺μ⁻ at 13 TeV from the analytic oracle (CT18LO, m_W scheme, Λ = 1 TeV), "
                   "binned in the 92 inputs (60 m_ll + 32 p_T(μ⁻) bins, pb/GeV) inside the acceptance.",
                   [oracle_sm_figure(d.sm_templates, d.edges),
                    operator_ratio_figure(d.sm_templates, d.linear, d.edges, rp.ratio_coefficient),
                    screening_table(d.screen),
                    universe_spectra_figure(d.y, d.y_sm, d.edges, d.names)])


def latent_section(d: Loaded, params: Params):
    from .common import Section
    from .figures_latent import (
        baseline_figure,
        baseline_table,
        latent_colour_figure,
        training_curve_figure,
        traversal_figure,
        uncertainty_maps_figure,
    )

    rp = params.report
    zc = _cols(d.rep, r"z_\d+")
    test = d.rep[d.rep["split"] == "test"] if "split" in d.rep.columns else d.rep
    lab = test["label"].to_numpy(int)
    col = {
        f"dσ/dp_T, p_T bin at {rp.pt_subpeak_gev:g} GeV": ("pt", rp.pt_subpeak_gev),
        f"dσ/dm_ll, Z-peak bin ({rp.mll_peak_gev:g} GeV)": ("mll", rp.mll_peak_gev),
        f"dσ/dm_ll, high-mass bin ({rp.mll_high_gev:g} GeV)": ("mll", rp.mll_high_gev),
    }
    offset = dict(zip(d.edges, np.cumsum([0] + [len(e) - 1 for e in d.edges.values()])))
    colours = {k: d.y[lab, offset[o] + bin_of(d.edges[o], x, f"{o} bin at {x}")] for k, (o, x) in col.items()}
    z_u = d.uni[zc].to_numpy(float)
    y_u = d.y[d.uni["label"].to_numpy(int)]
    maps = read_parquet(d.heads / "latent_maps.parquet")
    enc = d.train.get("encoder", {}) or {}
    pca = d.train.get("pca", {}) or {}
    items = [training_curve_figure(d.history),
             latent_colour_figure(test[zc].to_numpy(float), colours, z_u, rp.latent_points, rp.seed),
             traversal_figure(z_u, y_u, d.y_sm, d.edges["mll"], rp.n_clusters, rp.seed),
             uncertainty_maps_figure(maps["z_0"], maps["z_1"], maps["entropy"], maps["mi"], z_u,
                                     (d.heads_metrics.get("dpn") or {}).get("max_entropy")),
             baseline_figure(enc, pca), baseline_table(enc, pca)]
    if len(zc) > 2:
        items.insert(1, f"The latent space has {len(zc)} dimensions; figures show the first two (z_0, z_1).")
    return Section("latent", "Foundation embedding",
                   "The contrastive encoder maps each replica's 92 inputs to the latent plane; universes are "
                   "colour-coded by physics, grouped, and scored by a Dirichlet prior network head.", items)


def heads_section(d: Loaded, params: Params):
    from .common import Section
    from .figures_latent import (
        anomaly_figure,
        coefficient_violin_figure,
        radial_ranges_figure,
        retrieval_figure,
        retrieval_table,
    )

    h = d.heads
    maps = read_parquet(h / "latent_maps.parquet")
    inj = read_parquet(h / "injected_spectra.parquet")
    signals = [c for c in inj.columns if c not in ("SM", "column")]
    scores = read_parquet(h / "anomaly_scores.parquet")
    anomaly = d.heads_metrics.get("anomaly") or {}
    aurocs = {s: (anomaly.get(s) or {}).get("auroc_mi") for s in signals}
    z_sm = read_parquet(h / "sm_embedding.parquet")
    contours = read_parquet(h / "contours.parquet")
    table = _json(h / "retrieval_table.json")
    levels = [str(lv["level"]) for lv in table.get("levels", [])]
    if not levels:
        raise DataError(f"{h / 'retrieval_table.json'} lists no sigma levels; re-run `dvc repro heads`")
    cont = {lv: contours.loc[contours["level"] == lv, ["z_0", "z_1"]].to_numpy(float) for lv in levels}
    zc = _cols(d.uni, r"z_\d+")
    labels = d.uni["label"].to_numpy(int)
    level_of = np.full(len(labels), len(levels))
    for k in range(len(levels) - 1, -1, -1):  # tightest level wins
        level_of[np.isin(labels, table["levels"][k].get("universes", []))] = k
    coeffs = read_parquet(h / "retrieval_coefficients.parquet")
    ranges = read_parquet(h / "retrieval_ranges.parquet")
    ops = [o for o in d.operators if o in set(coeffs["operator"])] or d.operators
    return Section("heads", "Heads: anomalies and SM retrieval",
                   "Downstream heads on the frozen embedding: anomaly scores of injected non-SMEFT signals, and "
                   "the universes the latent space cannot separate from the SM, graded by the exact χ².",
                   [anomaly_figure({s: inj[s].to_numpy(float) for s in signals}, inj["SM"].to_numpy(float),
                                   d.edges, scores, aurocs, (maps["z_0"], maps["z_1"], maps["entropy"])),
                    retrieval_figure(z_sm[_cols(z_sm, r"z_\d+")].to_numpy(float), cont,
                                     d.uni[zc].to_numpy(float), level_of, levels),
                    retrieval_table(table["levels"], d.heads_metrics.get("retrieval") or {}),
                    coefficient_violin_figure(coeffs, ops, levels),
                    radial_ranges_figure(ranges, ops, levels)])


def scorecard_section(inputs: ReportInputs, d: Loaded):
    """The scorecard table, the anomaly strength scans and the Figs. 11-12 null bands."""
    from ..data.parquet_io import read_meta
    from .common import Section
    from .figures_scorecard import null_band_figure, scorecard_table, strength_scan_figure

    card, details = _json(inputs.scorecard_metrics), _json(inputs.scorecard_details)
    curves_path = inputs.scorecard / "anomaly_curves.parquet"
    curves = read_parquet(curves_path)
    units = read_meta(curves_path).get("units") or {}
    ranges = read_parquet(d.heads / "retrieval_ranges.parquet")
    levels = list(dict.fromkeys(ranges["level"]))
    null = ranges[["level", "operator", "null_lo", "null_hi"]].rename(columns={"null_lo": "lo", "null_hi": "hi"})
    ops = [o for o in d.operators if o in set(ranges["operator"])]
    return Section("scorecard", "Scorecard: graded against the exact optimum",
                   "Every head of the `paper` and `recommended` configurations on unseen universes, beside the "
                   "oracle's likelihood ratio, the goodness-of-fit test and linear baselines fit on the same data.",
                   [scorecard_table(card, details), strength_scan_figure(curves, units),
                    null_band_figure(ranges, null, ops, levels)])


def loop_section(d: Loaded, params: Params):
    from .common import Section
    from .figures_loop import cycle_table, paper_comparison_table, probe_r2_figure, sigma_timeline_figure

    loop = d.loop
    # the floor the loop actually used (its metrics' settings); params.loop.floor only for older loop outputs
    floor = float((loop.get("settings") or {}).get("floor") or params.loop.floor)
    collapse = loop.get("collapse") or {}
    cycles = loop.get("cycles_to_completion") or {}
    items = [sigma_timeline_figure(d.trace, floor), cycle_table(d.trace),
             paper_comparison_table(collapse, cycles, loop.get("unlock_triggered_extension")),
             probe_r2_figure(informer_r2(d.informer))]
    return Section("aletheia", "ALETHEIA complete-then-expand loop",
                   "σ₁ of the residual operator measures the out-of-span part of the acquired working points' "
                   "per-event log-likelihood ratios; ψ-extensions append the dominant residual direction.", items)


def constraints_section(d: Loaded):
    """Wilson-coefficient constraints from published data (the ``fit`` stage), beside the foundation model."""
    from ..reports.common import Section
    from ..reports.figures_fit import (
        chi2_table,
        contour_figure,
        interval_bars_figure,
        lo_vs_data_figure,
        lo_vs_data_table,
        sets_table,
    )
    from ..reports.figures_fit import spectra_figure as fit_spectra_figure

    fit, det, lvd = d.fit.get("fit"), d.fit.get("details"), d.fit.get("lo_vs_data")
    if not fit or not det or not lvd:
        raise DataError("data/fit/results.json lacks fit, details or lo_vs_data; re-run `dvc repro fit`")
    key = "combined" if "combined" in fit else next(iter(fit))
    pairs = sorted({k.split("|")[0] for k in d.fit_contours})
    cms = "CMS_DY_13TEV" if "CMS_DY_13TEV" in lvd else next(iter(lvd))
    note = ("The foundation model is not applied to these spectra: its 92 inputs are fiducial 13 TeV muon spectra "
            "(both muons |η| < 2.5, p_T > 10 GeV, 50-650 GeV, m_ll in 10 GeV bins and p_T(μ⁻)), while CMS is "
            "corrected to the full phase space in other bins and without a p_T(μ) spectrum, and ATLAS is at 7 TeV "
            "with p_T > 25 GeV. Embedding either would need the missing p_T(μ⁻) half of the input invented, so any "
            "retrieved universe would reflect that invention; the exact fit below is the answer (docs/fit.md).")
    return Section("constraints", "Constraints from LHC Drell–Yan data",
                   "The fit stage confronts the oracle (LO, each dataset's own phase space) with published dσ/dm_ll "
                   "spectra; the EFT enters as a ratio to the LO SM on top of the LO SM × a fitted normalisation.",
                   [chi2_table(fit, det), interval_bars_figure(fit[key]["intervals"], key),
                    contour_figure(d.fit_contours, pairs), fit_spectra_figure(lvd), sets_table(det),
                    lo_vs_data_figure(lvd[cms], cms), lo_vs_data_table(lvd[cms], cms), note])


def informer_r2(informer: dict) -> dict[str, list[float]]:
    """Per-term probe R² values over seeds from the informer metrics (``probe_r2: {term: [per seed]}``)."""
    r2 = informer.get("probe_r2")
    if not isinstance(r2, dict) or not r2:
        raise DataError("informer metrics hold no 'probe_r2' mapping; re-run `dvc repro informer`")
    return {k: list(np.atleast_1d(np.asarray(v, float))) for k, v in r2.items()}


def loop_plot_frame(trace: pd.DataFrame) -> pd.DataFrame:
    """The headline run's sigma_1 per cycle, for ``dvc plots`` (CSV)."""
    from .figures_loop import main_run

    m = main_run(trace)
    keep = [c for c in ("cycle", "psi_dim", "sigma1_pre", "sigma1_post", "sigma1_val_post", "action")
            if c in m.columns]
    return m[keep]


def report_figures(d: Loaded) -> dict[str, float]:
    """The report's own headline figures: sigma_SM in the acceptance (pb, the m_ll block), counts of operators."""
    mll = len(d.edges["mll"]) - 1
    widths = np.diff(d.edges["mll"])
    return {"sigma_sm_acceptance_pb": float((d.sm_templates[:mll] * widths).sum()),
            "n_interfering_operators": sum(bool(v.get("interferes")) for v in d.screen.values()),
            "n_universes": len(d.names), "n_universes_negative": int(d.has_negative.sum())}

"""The ``corpus`` stage's steps: the theory spectra as a matrix, each universe's 2-D cross sections for Sigma(rho),
the corpus metadata and the summary metrics of the SM's uncertainty model.

Spectra in pb/GeV, 2-D cross sections in pb, luminosities in pb^-1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Params
from ..errors import SmeftfmError
from ..physics.observables import select_bin_columns
from .joint_io import JointTemplates
from .noise import NoiseModel
from .parquet_io import file_hash, read_meta, read_parquet
from .universes import operator_columns

__all__ = ["corpus_metadata", "corpus_metrics", "spectra_matrix", "universe_cross_sections"]


def spectra_matrix(path: Path) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """``data/spectra.parquet`` as (labels [U+1] with -1 for the SM, spectra [U+1, B], bin columns, metadata)."""
    df = read_parquet(path)
    meta = read_meta(path)
    cols = select_bin_columns(df.columns)
    return df["label"].to_numpy(np.int64), df[cols].to_numpy(np.float64), cols, meta


def universe_cross_sections(params: Params, joint: JointTemplates | None, universes: Path | None,
                            labels: np.ndarray) -> np.ndarray | None:
    """Each universe's 2-D (m_ll, p_T) cross sections [len(labels), n_mll, n_pt] (pb), None without 2-D templates."""
    if joint is None:
        return None
    if universes is None:
        raise SmeftfmError("corpus.nugget < 1 needs the universes' coefficients: pass --universes "
                           "data/universes.parquet")
    udf = read_parquet(universes).set_index("label").loc[labels]
    ops = operator_columns(udf.reset_index())
    return joint.cross_sections(ops, udf[ops].to_numpy(np.float64), params.physics.order)


def corpus_metadata(params: Params, templates, spectra: Path, smeta: dict) -> dict:
    """What the corpus records about its inputs (params, template and spectra hashes, operators, binning)."""
    return {"params": {"corpus": params.corpus.model_dump(), "observables": params.observables.model_dump()},
            "templates_sha256": templates.meta.get("sha256"), "spectra_sha256": file_hash(spectra),
            "operators": smeta.get("operators"), "order": smeta.get("order"), "edges": smeta.get("edges")}


def corpus_metrics(model: NoiseModel, joint: JointTemplates | None, y: np.ndarray, labels: np.ndarray,
                   summary: dict, seconds: float) -> dict:
    """``corpus.json``: rows and throughput, the luminosity model, and the SM's rank and relative uncertainties."""
    sm = y[labels == -1]
    poisson_bins, rank, sm_rel = 0, 0, np.full(y.shape[1], np.nan)
    if sm.size:
        sm_cov = model.covariance(sm[0], None if joint is None else joint.sm)
        sm_rel = np.sqrt(np.diag(sm_cov)) / np.where(sm[0] > 0, sm[0], np.nan)
        poisson_bins = int(np.sum((model.expected_events(sm[0]) < model.poisson_below) & (sm[0] > 0)))
        rank = int(np.linalg.matrix_rank(sm_cov, tol=1e-10 * np.abs(sm_cov).max()))
    rows = sum(v["rows"] for v in summary.values())
    return {
        "rows": rows,
        "rows_per_second": rows / seconds,
        "seconds": seconds,
        "l_eff_pb_inv": model.l_eff,
        "luminosity_pb_inv": model.lumi,
        "uncertainty_rescale_m": model.rescale,
        "nugget": model.nugget,
        "sm_poisson_bins": poisson_bins,
        "sm_rank": rank,
        "sm_rel_unc_min": float(np.nanmin(sm_rel)),
        "sm_rel_unc_max": float(np.nanmax(sm_rel)),
        **{f"{k}_rows": v["rows"] for k, v in summary.items()},
        **{f"{k}_shards": v["shards"] for k, v in summary.items()},
    }

"""The ``universes``, ``spectra``, ``corpus`` and ``events`` stages (each one MLflow run via ``tracking``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..atomic import write_metrics
from ..config import DaskParams, Params
from ..data.corpus import corpus_metadata, corpus_metrics, spectra_matrix, universe_cross_sections
from ..data.events import get_sampler
from ..data.events_io import sample_working_points, write_events
from ..data.noise import corpus_noise
from ..data.parquet_io import file_hash, read_parquet, write_parquet
from ..data.replicas import write_corpus
from ..data.sharding import corpus_executor
from ..data.spectra import spectra_frame, spectra_meta
from ..data.templates_io import read_templates
from ..data.universes import (
    SM_NAME,
    align_coefficients,
    catalog_order,
    operator_columns,
    sample_coefficients,
    universes_frame,
)
from ..errors import DataError, SmeftfmError
from ..physics.observables import histogram_columns
from ..physics.operators import CATALOG, VECTOR_OPERATORS
from ..physics.oracle import oracle_from_params
from ..physics.screening import read_screened_operators
from ..progress import progress
from ..tracking import stage_run

__all__ = ["run_corpus", "run_events", "run_spectra", "run_universes", "universe_operators"]


# ---------------------------------------------------------------------------------------------------- universes
def universe_operators(params: Params, screen_json: Path | None) -> tuple[str, ...]:
    """Operators the universes sample, in catalog order: the screened ones or all 31."""
    sel = params.universes.operators
    if isinstance(sel, list):
        return catalog_order(sel)
    if sel == "all":
        return tuple(op.name for op in CATALOG)
    return catalog_order(read_screened_operators(screen_json))


def run_universes(params: Params, out: Path, screen_json: Path | None, metrics_path: Path | None = None) -> dict:
    """Sample the universes and write ``data/universes.parquet`` (SM row first)."""
    u = params.universes
    ops = universe_operators(params, screen_json)
    with stage_run("universes", {"universes": u.model_dump(), "operators": list(ops)}) as run:
        t0 = time.perf_counter()
        coeffs = sample_coefficients(u.n, len(ops), u.seed, u.log_lo, u.log_hi, u.p_zero_max, u.zero_scope)
        df = universes_frame(ops, coeffs)
        meta = {"operators": list(ops), "seed": u.seed, "params": u.model_dump(), "units": "dimensionless, 1 TeV"}
        write_parquet(df, out, meta)
        nz = coeffs != 0
        metrics = {
            "n_universes": u.n,
            "n_operators": len(ops),
            "zero_fraction": float(1 - nz.mean()) if nz.size else 0.0,
            "median_abs_nonzero": float(np.median(np.abs(coeffs[nz]))) if nz.any() else 0.0,
            "seconds": time.perf_counter() - t0,
        }
        run.log_metrics(metrics)
        run.log_artifact(out)
    write_metrics(metrics_path, metrics)
    return metrics


# ---------------------------------------------------------------------------------------------------- spectra
def run_spectra(params: Params, out: Path, universes: Path, templates: Path,
                metrics_path: Path | None = None) -> dict:
    """Theory spectra of every universe from the templates at ``physics.order``; flags negative bins."""
    order = params.physics.order
    with stage_run("spectra", {"physics.order": order}) as run:
        t0 = time.perf_counter()
        udf = read_parquet(universes)
        t = read_templates(templates)
        df = spectra_frame(udf, t, order)
        meta = spectra_meta(t, order, operator_columns(udf))
        meta["universes_sha256"] = file_hash(universes)
        write_parquet(df, out, meta)
        neg = df["has_negative"].to_numpy()
        metrics = {
            "n_universes": int((df["label"] >= 0).sum()),
            "n_has_negative": int(neg.sum()),
            "sm_has_negative": bool(neg[df["universe"].to_numpy() == SM_NAME].any()),
            "seconds": time.perf_counter() - t0,
        }
        run.set_tags({"negative_universes": ",".join(df.loc[neg, "universe"]) or "none"})
        run.log_metrics(metrics)
        run.log_artifact(out)
    write_metrics(metrics_path, metrics)
    return metrics


# ---------------------------------------------------------------------------------------------------- corpus
def run_corpus(params: Params, out: Path, spectra: Path, templates: Path, metrics_path: Path | None = None,
               universes: Path | None = None, joint: Path | None = None, dask: DaskParams | None = None) -> dict:
    """Replicas of every universe (not the SM) under Sigma(rho) (``data/noise.py``), sharded Parquet under ``out``.

    ``dask`` (``params.yaml`` ``dask``, CLI ``--dask-workers/--dask-address``) runs the shard tasks on Dask
    (``data/sharding.py``); the bytes written are the same as the serial default's."""
    c = params.corpus
    with stage_run("corpus", {"corpus": c.model_dump()}) as run:
        t0 = time.perf_counter()
        labels, y, cols, smeta = spectra_matrix(spectra)
        t = read_templates(templates)
        if cols != histogram_columns(t.binnings):
            raise DataError(f"{spectra} bins do not match the templates {templates}; re-run `smeftfm spectra`")
        model, jt = corpus_noise(params, t, joint)
        keep = labels >= 0
        cross = universe_cross_sections(params, jt, universes, labels[keep])
        meta = corpus_metadata(params, t, spectra, smeta)
        with progress(int(keep.sum()) * c.n_replicas, "corpus", "rows") as bar, corpus_executor(dask) as ex:
            summary = write_corpus(out, y[keep], labels[keep], cols, model, c.n_replicas, c.seed, c.split,
                                   c.shard_rows, meta, progress=bar.update, cross_pb=cross, executor=ex)
        metrics = corpus_metrics(model, jt, y, labels, summary, time.perf_counter() - t0)
        run.log_metrics(metrics)
        run.log_dict({"summary": summary, "meta": meta}, "corpus_summary.json")
    write_metrics(metrics_path, metrics)
    return metrics


# ---------------------------------------------------------------------------------------------------- events
def run_events(params: Params, out: Path, universes: Path, metrics_path: Path | None = None) -> dict:
    """Unweighted events at the SM and (optionally) every universe; one Parquet row group per working point."""
    e = params.events
    order = params.physics.order
    with stage_run("events", {"events": e.model_dump(), "physics.order": order}) as run:
        t0 = time.perf_counter()
        udf = read_parquet(universes)
        if not e.include_universes:
            udf = udf[udf["universe"] == SM_NAME]
        u_ops = operator_columns(udf)
        model_ops = tuple(op for op in u_ops if op in VECTOR_OPERATORS)
        if not model_ops:
            raise SmeftfmError(f"{universes} samples no operator that acts on Drell-Yan; check universes.operators")
        coeffs = align_coefficients(u_ops, udf[u_ops].to_numpy(np.float64), model_ops, order)
        oracle = oracle_from_params(params, model_ops)
        sampler = get_sampler(oracle, order)
        with progress(len(udf), "events", "points") as bar:
            ev = sample_working_points(sampler, udf["universe"], udf["label"], coeffs, model_ops, e.n_per_point,
                                       e.seed, e.on_negative, bar.update)
        info, skipped = ev.info, ev.skipped
        meta = {"operators": list(model_ops), "order": order, "seed": e.seed, "units": {"m_ll": "GeV"},
                "acceptance": vars(oracle.acceptance), "row_groups": info, "skipped": skipped,
                "universes_sha256": file_hash(universes), "params": e.model_dump()}
        write_events(out, ev.points, list(model_ops), meta)
        eff = [i["efficiency"] for i in info]
        metrics = {"n_points": len(ev.points), "n_skipped": len(skipped), "events": int(sum(i["n"] for i in info)),
                   "mean_efficiency": float(np.mean(eff)) if eff else 0.0,
                   "envelope_refinements": int(sum(i["envelope_refinements"] for i in info)),
                   "seconds": time.perf_counter() - t0}
        if info and info[0]["point"] == SM_NAME:
            metrics["sm_sigma_pb"] = info[0]["sigma_pb"]
        run.log_metrics(metrics)
        run.log_dict({"row_groups": info, "skipped": skipped}, "events_points.json")
    write_metrics(metrics_path, metrics)
    return metrics


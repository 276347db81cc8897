"""The ``train`` (contrastive encoder + PCA baseline) and ``heads`` (DPN, anomalies, retrieval) stages."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import json_safe, write_json, write_text
from ..config import Params
from ..data.parquet_io import check_provenance, read_parquet
from ..tracking import log_torch_model, stage_run

__all__ = ["run_heads", "run_train"]


def run_train(params: Params, corpus_dir: Path, spectra_path: Path, universes_path: Path, model_dir: Path,
              embeddings_dir: Path, metrics_path: Path, plots_path: Path) -> dict:
    """Train the encoder, fit the PCA baseline, write model, embeddings, metrics and the loss curve."""
    from ..device import pick_device
    from ..models import encoder_study as es
    from ..models import stream_study as ss
    from ..models.bundle import save_encoder
    from ..models.encoder import EmbeddingModel

    tp = params.train
    load = ss.load_streaming_data if tp.streaming else es.load_training_data
    data = load(corpus_dir, spectra_path, universes_path)
    with stage_run("train", {"train": tp.model_dump()}) as run:
        t0 = time.perf_counter()
        device = pick_device()
        on_epoch = es.epoch_logger(run.log_metrics)
        st = (ss.study_streaming(params, corpus_dir, data, device, on_epoch) if tp.streaming
              else es.study_in_memory(params, data, device, on_epoch))
        res, metrics = st.res, st.metrics
        save_encoder(model_dir, res.encoder.cpu(), st.transform, es.model_meta(tp, res, data))
        es.write_embeddings(embeddings_dir, st.ids, st.z, st.zp, data.theory)
        write_json(metrics_path, metrics)
        write_text(plots_path, pd.DataFrame(res.history).to_csv(index=False, float_format="%.6g"))
        run.log_metrics({"encoder": metrics["encoder"], "pca": metrics["pca"]})
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)})
        run.log_artifact(metrics_path)
        run.log_artifact(plots_path)
        run.set_tags({"device": str(device), "training_path": metrics["training_path"]})
        model = EmbeddingModel(res.encoder.cpu(), st.transform).eval()
        log_torch_model(run, model, "encoder", st.example, registered_name="smeftfm-encoder")
        run.log_metrics({"stage_seconds": time.perf_counter() - t0})
    return metrics


# --------------------------------------------------------------------------------------------- heads
def run_heads(params: Params, embeddings_dir: Path, model_dir: Path, spectra_path: Path, universes_path: Path,
              templates_path: Path, out_dir: Path, metrics_path: Path) -> dict:
    """DPN head, latent uncertainty maps, anomaly AUROCs and SM retrieval with its chi^2 truth."""
    from ..data.noise import corpus_noise
    from ..data.templates_io import read_templates
    from ..models import heads
    from ..models.datasets import load_theory
    from ..models.registry import load_heads_encoder

    hp = params.heads
    rng = np.random.default_rng(hp.seed)
    theory = load_theory(spectra_path, universes_path)
    templates = read_templates(templates_path)
    check_provenance(theory.meta.get("templates_sha256"), templates_path, str(spectra_path))
    model, _, encoder_source = load_heads_encoder(hp.encoder_uri, model_dir)  # models/registry.py
    rep = read_parquet(Path(embeddings_dir) / "replicas.parquet")
    uni = read_parquet(Path(embeddings_dir) / "universes.parquet")
    zc = heads.latent_columns(rep, Path(embeddings_dir) / "replicas.parquet")
    n_univ = len(theory.labels)
    with stage_run("heads", {"heads": hp.model_dump(), "encoder_source": encoder_source}) as run:
        t0 = time.perf_counter()
        dpn = heads.fit_dpn(rep, zc, n_univ, hp, rng)
        maps = heads.uncertainty_maps(dpn.head, dpn.z_train, hp.grid_n)
        noise, joint = corpus_noise(params, templates, Path(templates_path).with_name("joint.parquet"))
        cov_sm = np.asarray(noise.covariance(theory.y_sm, None if joint is None else joint.sm), dtype=np.float64)
        density = heads.sm_density(params) if hp.zshift_density == "oracle" else None
        anomaly = heads.anomaly_study(dpn.head, model, dpn, noise, theory.y_sm, cov_sm, templates, theory, hp,
                                      density, rng)
        ret = heads.retrieval_study(anomaly.z_sm, uni, zc, theory, cov_sm, hp, rng)
        heads.write_heads(out_dir, dpn, maps, anomaly, ret, zc, n_univ, hp)
        metrics = json_safe({"dpn": dpn.metrics, "anomaly": anomaly.metrics, "retrieval": ret.metrics,
                             "chi2_dof": ret.dof, "n_sm_replicas": hp.n_sm_replicas,
                             "seconds": time.perf_counter() - t0})
        write_json(metrics_path, metrics)
        run.log_metrics({"dpn": dpn.metrics, "anomaly": anomaly.metrics,
                         "retrieval": {k: {kk: vv for kk, vv in v.items() if vv is not None}
                                       for k, v in ret.metrics.items()}})
        run.log_artifact(metrics_path)
        run.log_artifact(out_dir / "retrieval_table.json")
    return metrics

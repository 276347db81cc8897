"""The ``train`` stage's steps, named and small: load and check the corpus, fit the input transform, embed every
split with the encoder and the PCA baseline, grade both latents with the same probes, write the embeddings.

Spectra in pb/GeV; latent coordinates dimensionless; R^2 and accuracies are fractions on the *test* split.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..atomic import atomic_dir, json_safe
from ..config import Params
from ..data.parquet_io import check_provenance, write_parquet
from ..data.replicas import corpus_meta
from ..errors import DataError
from ..physics.constants import DEFAULT_EW
from ..physics.observables import column_names
from .baselines import embedding_metrics, fit_pca
from .datasets import SPLITS, Split, Theory, load_split, load_theory
from .encoder import EncoderConfig, embed
from .training import TrainConfig, TrainResult
from .transforms import InputTransform

__all__ = ["SplitIds", "TrainStudy", "TrainingData", "embed_splits", "encoder_config", "epoch_logger", "fit_features",
           "load_training_data", "metrics_summary", "model_meta", "probe_targets", "study_in_memory", "train_metrics",
           "write_embeddings", "zpeak_column"]

_log = logging.getLogger(__name__)


class SplitIds(NamedTuple):
    """Universe label and replica index of every replica of a split (int64), without the spectra."""

    label: np.ndarray
    replica: np.ndarray


@dataclass(frozen=True)
class TrainingData:
    theory: Theory
    splits: dict[str, Split]

    @property
    def columns(self) -> tuple[str, ...]:
        """The spectrum bin columns (those of the theory spectra, checked equal to every loaded split's)."""
        return self.theory.columns


def load_training_data(corpus_dir: Path, spectra_path: Path, universes_path: Path,
                       splits_to_load: tuple[str, ...] = SPLITS) -> TrainingData:
    """The corpus splits (``splits_to_load``; the streamed path leaves out ``train``) and the theory spectra,
    checked against each other (provenance, columns, labels)."""
    theory = load_theory(spectra_path, universes_path)
    splits = {s: load_split(corpus_dir, s) for s in splits_to_load}
    check_provenance(corpus_meta(corpus_dir).get("spectra_sha256"), spectra_path, "the corpus")
    if any(sp.columns != theory.columns for sp in splits.values()):
        raise DataError("corpus and spectra bin columns differ; re-run the corpus stage")
    n_univ = len(theory.labels)
    for s, sp in splits.items():
        if sp.label.min() < 0 or sp.label.max() >= n_univ:
            raise DataError(f"corpus split {s} has labels outside 0..{n_univ - 1}; re-run `dvc repro`")
    return TrainingData(theory, splits)


def fit_features(tp, data: TrainingData) -> tuple[InputTransform, dict[str, np.ndarray]]:
    """The input transform fitted on the training split, and every split's transformed features."""
    transform = InputTransform.fit(tp.input_transform, data.splits["train"].x, data.theory.y_sm, tp.transform_floor)
    return transform, {s: transform(sp.x) for s, sp in data.splits.items()}


def encoder_config(tp, n_inputs: int) -> EncoderConfig:
    """The encoder architecture from ``params.train``."""
    return EncoderConfig(n_inputs=n_inputs, depth=tp.depth, width=tp.width, latent_dim=tp.latent_dim,
                         dropout=tp.dropout, batch_norm=tp.batch_norm)


def epoch_logger(log_metrics: Callable[..., None]) -> Callable[[dict], None]:
    """A per-epoch callback that logs the losses (finite ones) and the epoch time through ``log_metrics``."""

    def on_epoch(rec: dict) -> None:
        vals = {"train_loss": rec["train_loss"], "val_loss": rec["val_loss"], "epoch_seconds": rec["seconds"]}
        log_metrics({k: v for k, v in vals.items() if np.isfinite(v)}, step=rec["epoch"])
        _log.info("epoch %d train %.4f val %.4f", rec["epoch"], rec["train_loss"], rec["val_loss"])

    return on_epoch


def embed_splits(res: TrainResult, feats: dict[str, np.ndarray], tp, device):
    """Latents of every split: the encoder's ``z`` and the PCA baseline's ``zp`` (fitted on train), and the PCA."""
    z = {s: embed(res.encoder, f, device) for s, f in feats.items()}
    pca = fit_pca(feats["train"], tp.latent_dim, tp.seed)
    zp = {s: pca.transform(f).astype(np.float32) for s, f in feats.items()}
    return z, zp, pca


def probe_targets(x: np.ndarray, labels: np.ndarray, columns: tuple[str, ...], operators: tuple[str, ...],
                  coeffs: np.ndarray, zpeak_col: str) -> dict[str, np.ndarray]:
    """Linear-probe targets per replica: log of the Z-peak m_ll bin, the highest-mass bin (pb/GeV), each C_i."""
    mll_cols = [i for i, c in enumerate(columns) if c.startswith("mll_")]
    iz = columns.index(zpeak_col)
    zpeak = x[:, iz].astype(np.float64)
    if np.any(zpeak <= 0):
        raise DataError("a replica has a non-positive Z-peak bin; the corpus uncertainty model is broken")
    out = {"log_zpeak": np.log(zpeak), "mll_highest": x[:, mll_cols[-1]].astype(np.float64)}
    for k, op in enumerate(operators):
        out[f"C_{op}"] = coeffs[labels, k]
    return out


def zpeak_column(columns: tuple[str, ...], params: Params) -> str:
    """The m_ll column whose bin holds m_Z."""
    b = params.observables.mll
    if b is None:
        raise DataError("the encoder probes need an m_ll histogram; list observables.mll in params.yaml")
    edges = b.bin_edges()
    i = int(np.searchsorted(edges, DEFAULT_EW.m_z) - 1)
    name = column_names("mll", len(edges) - 1)[i]
    if name not in columns:
        raise DataError(f"the corpus has no column {name} for the Z-peak bin")
    return name


def train_metrics(params: Params, data: TrainingData, res: TrainResult, transform: InputTransform,
                  z: dict, zp: dict, pca, device) -> dict:
    """``train.json``: the encoder's and the PCA baseline's probes on the test split and the training summary."""
    sp, th = data.splits, data.theory
    zcol = zpeak_column(data.columns, params)
    tgt = {s: probe_targets(sp[s].x, sp[s].label, data.columns, th.operators, th.coeffs, zcol)
           for s in ("train", "test")}
    return metrics_summary(params, th, res, {s: sp[s].label for s in SPLITS}, tgt, z, zp,
                           float(pca.explained_variance_ratio_.sum()), transform.clipped_fraction(sp["train"].x),
                           device, "in_memory")


def metrics_summary(params: Params, theory: Theory, res: TrainResult, labels: dict[str, np.ndarray],
                    tgt: dict[str, dict[str, np.ndarray]], z: dict, zp: dict, pca_explained: float,
                    clipped_train: float, device, training_path: str) -> dict:
    """``train.json`` from its parts (shared by the in-memory and the streamed path): ``labels`` of every split,
    probe targets ``tgt`` of train and test, latents ``z``/``zp`` of train and test."""
    tp, th = params.train, theory
    lab_tr, lab_te = labels["train"], labels["test"]
    m_enc, m_pca = (embedding_metrics(e["train"], lab_tr, e["test"], lab_te, tgt["train"], tgt["test"], tp.knn_k,
                                      tp.silhouette_n, tp.seed) for e in (z, zp))
    for m in (m_enc, m_pca):
        c_r2 = [v for k, v in m.items() if k.startswith("r2_C_") and v is not None]
        m["r2_C_mean"] = float(np.mean(c_r2)) if c_r2 else None
    return json_safe({
        "encoder": m_enc, "pca": m_pca,
        "encoder_beats_pca_knn": bool(m_enc["knn_accuracy"] > m_pca["knn_accuracy"]),
        "best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss, "epochs_run": len(res.history) - 1,
        "stopped_early": res.stopped_early, "train_seconds": res.seconds,
        "samples_per_second": res.samples_per_second,
        "pca_explained_variance": pca_explained, "clipped_fraction_train": clipped_train,
        "n_train": len(lab_tr), "n_val": len(labels["val"]), "n_test": len(lab_te),
        "n_universes": len(th.labels), "device": str(device), "training_path": training_path,
    })


def model_meta(tp, res: TrainResult, data: TrainingData) -> dict:
    """The training summary stored beside the encoder's weights."""
    th = data.theory
    return {"train": tp.model_dump(), "best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss,
            "operators": list(th.operators), "columns": list(data.columns), "universes": list(th.names)}


def write_embeddings(target: Path, splits: Mapping[str, Split | SplitIds], z: dict, zp: dict, theory: Theory) -> None:
    """``replicas.parquet`` (every replica: split, label, replica, z_*, pca_*) and ``universes.parquet``
    (per universe: mean and std of its *test* replica embeddings). ``splits`` need only ``label``/``replica``."""
    rows = []
    for s, sp in splits.items():
        df = pd.DataFrame({"split": s, "label": sp.label.astype(np.int32), "replica": sp.replica.astype(np.int32)})
        for k in range(z[s].shape[1]):
            df[f"z_{k}"] = z[s][:, k]
        for k in range(zp[s].shape[1]):
            df[f"pca_{k}"] = zp[s][:, k]
        rows.append(df)
    rep = pd.concat(rows, ignore_index=True)
    test = rep[rep["split"] == "test"]
    zc = [c for c in rep.columns if c.startswith(("z_", "pca_"))]
    g = test.groupby("label")[zc]
    uni = g.mean().add_suffix("").reset_index()
    std = g.std().add_suffix("_std").reset_index(drop=True)
    uni = pd.concat([uni, std], axis=1)
    uni.insert(0, "universe", [theory.names[i] for i in uni["label"]])
    uni["n_test"] = g.size().to_numpy()
    meta = {"latent": [c for c in zc if c.startswith("z_")], "baseline": "pca", "operators": list(theory.operators)}
    with atomic_dir(target) as tmp:
        write_parquet(rep, tmp / "replicas.parquet", meta)
        write_parquet(uni, tmp / "universes.parquet", meta)


@dataclass(frozen=True)
class TrainStudy:
    """What either training path hands the stage: the result, the fitted transform, latents ``z``/``zp`` and ids
    of every split, ``train.json``, and a few raw spectra (pb/GeV) as the MLflow input example."""

    res: TrainResult
    transform: InputTransform
    z: dict[str, np.ndarray]
    zp: dict[str, np.ndarray]
    ids: dict[str, Split | SplitIds]
    metrics: dict
    example: np.ndarray


def study_in_memory(params: Params, data: TrainingData, device, on_epoch: Callable[[dict], None]) -> TrainStudy:
    """The in-memory path: transform, encoder (in this process or on ``train.nproc`` DDP ranks), latents, metrics."""
    from .distributed import fit_encoder

    tp = params.train
    transform, feats = fit_features(tp, data)
    sp = data.splits
    res = fit_encoder(tp.nproc, feats["train"], sp["train"].label, feats["val"], sp["val"].label,
                      encoder_config(tp, len(data.columns)), TrainConfig.from_params(tp), device, on_epoch)
    z, zp, pca = embed_splits(res, feats, tp, device)
    metrics = train_metrics(params, data, res, transform, z, zp, pca, device)
    return TrainStudy(res, transform, z, zp, dict(sp), metrics, sp["train"].x[:8])

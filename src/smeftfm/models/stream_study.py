"""The ``train`` stage's steps when ``train.streaming`` is true: the train split is never loaded whole.

The train split is read row group by row group (one universe's chunk of a shard at a time) in three passes:

1. :func:`fit_transform_streaming` -- shifted float64 sums of the raw transform ``g`` and of ``g g^T`` give the
   input transform's per-bin mean and standard deviation (as :meth:`InputTransform.fit`) *and* the covariance of
   the standardised features, whose eigenvectors are the PCA baseline (:class:`CovariancePCA`; what scikit-learn's
   PCA computes for ``n >> bins``, up to the sign of each component);
2. training: :class:`~smeftfm.models.streaming.ShardStream` over the shards, ``train.pairs_per_epoch`` anchors
   per epoch, validation and early stopping as in memory (:func:`train_streaming`);
3. :func:`embed_train_streaming` -- latents, PCA coordinates, probe targets and the clipped fraction of every
   train replica (a few numbers per replica, kept in memory; the spectra are not).

The validation and test splits (10 % of the replicas each by default) are loaded as in the in-memory path, so
peak memory is theirs plus one shuffle buffer (``train.stream_buffer_rows`` replicas) and the per-replica latents.
Spectra in pb/GeV; features and latents dimensionless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..config import Params
from ..errors import DataError
from ..physics.observables import select_bin_columns
from .encoder import Encoder, EncoderConfig, embed
from .encoder_study import (
    SplitIds,
    TrainingData,
    TrainStudy,
    encoder_config,
    load_training_data,
    metrics_summary,
    probe_targets,
    zpeak_column,
)
from .streaming import ShardStream, split_shards, train_encoder_streaming
from .training import TrainConfig, TrainResult
from .transforms import InputTransform

__all__ = ["CovariancePCA", "StreamedTrain", "embed_train_streaming", "fit_transform_streaming",
           "load_streaming_data", "study_streaming", "train_chunks", "train_streaming"]


def train_chunks(corpus_dir: Path, columns: tuple[str, ...]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(x float32 [n, bins] pb/GeV, label int64 [n], replica int64 [n])`` of every row group of the train
    split, in shard order; non-finite spectra are a :class:`DataError`."""
    files = split_shards(corpus_dir, "train")
    for f in files:
        try:
            pf = pq.ParquetFile(f, memory_map=True)
            for g in range(pf.num_row_groups):
                t = pf.read_row_group(g, columns=["label", "replica", *columns])
                x = np.column_stack([t.column(c).to_numpy() for c in columns]).astype(np.float32, copy=False)
                if not np.all(np.isfinite(x)):
                    raise DataError(f"{f} contains non-finite spectra; re-run the corpus stage")
                yield (x, t.column("label").to_numpy().astype(np.int64),
                       t.column("replica").to_numpy().astype(np.int64))
        except (pa.ArrowInvalid, OSError, KeyError) as err:
            raise DataError(f"corpus shard {f} is unreadable or lacks columns ({err}); re-run the corpus stage") \
                from None


def load_streaming_data(corpus_dir: Path, spectra_path: Path, universes_path: Path) -> TrainingData:
    """Theory, validation and test splits in memory (checked as in the in-memory path); the train split's shards
    are only checked to carry the same bin columns."""
    data = load_training_data(corpus_dir, spectra_path, universes_path, splits_to_load=("val", "test"))
    files = split_shards(corpus_dir, "train")
    if tuple(select_bin_columns(pq.read_schema(files[0]).names)) != data.columns:
        raise DataError("corpus train shards and spectra bin columns differ; re-run the corpus stage")
    return data


@dataclass(frozen=True)
class CovariancePCA:
    """PCA from a covariance matrix: ``transform(x) = (x - mean_) @ components_.T``; components ordered by
    decreasing variance, each with its largest-magnitude entry positive."""

    mean_: np.ndarray
    components_: np.ndarray
    explained_variance_ratio_: np.ndarray

    @classmethod
    def from_covariance(cls, mean: np.ndarray, cov: np.ndarray, n_components: int) -> CovariancePCA:
        """The leading ``n_components`` eigenvectors of the (symmetric) covariance ``cov``."""
        if n_components > cov.shape[0]:
            raise DataError(f"PCA to {n_components} components needs at least as many input features")
        w, v = np.linalg.eigh((cov + cov.T) / 2)
        order = np.argsort(w)[::-1][:n_components]
        comp = v[:, order].T
        comp *= np.sign(comp[np.arange(n_components), np.abs(comp).argmax(axis=1)])[:, None]
        total = float(np.clip(w, 0, None).sum())
        return cls(mean, comp, np.clip(w[order], 0, None) / (total if total > 0 else 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Coordinates ``[n, n_components]`` of features ``x [n, bins]``."""
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T


def fit_transform_streaming(tp, corpus_dir: Path, data: TrainingData) -> tuple[InputTransform, CovariancePCA]:
    """The input transform (``train.input_transform``) and the PCA baseline, from one streamed pass over the
    train split (shifted float64 sums; exact up to rounding). Labels outside the universes are a DataError."""
    sm = data.theory.y_sm
    check = InputTransform.fit(tp.input_transform, sm[None, :], sm, tp.transform_floor)  # validates sm and floor
    n, shift, s1, s2 = 0, None, None, None
    n_univ = len(data.theory.labels)
    for x, label, _ in train_chunks(corpus_dir, data.columns):
        if label.size and (label.min() < 0 or label.max() >= n_univ):
            raise DataError(f"corpus split train has labels outside 0..{n_univ - 1}; re-run `dvc repro`")
        g = InputTransform.raw(check.kind, x.astype(np.float64), sm, check.floor)
        if shift is None:
            shift = g.mean(axis=0)
            s1, s2 = np.zeros_like(shift), np.zeros((shift.size, shift.size))
        d = g - shift
        n, s1, s2 = n + len(g), s1 + d.sum(axis=0), s2 + d.T @ d
    if n < 2 or shift is None or s1 is None or s2 is None:
        raise DataError("the corpus train split holds fewer than 2 replicas; re-run the corpus stage")
    mu_d = s1 / n
    cov_g = s2 / n - np.outer(mu_d, mu_d)
    mean = shift + mu_d
    std = np.sqrt(np.clip(np.diag(cov_g), 0, None))
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)  # constant bins: centre only
    transform = InputTransform(kind=check.kind, sm=check.sm, mean=mean, std=std, floor=check.floor)
    cov_f = cov_g / np.outer(std, std)  # the standardised features have mean 0
    return transform, CovariancePCA.from_covariance(np.zeros_like(mean), cov_f, tp.latent_dim)


def train_streaming(tp, corpus_dir: Path, transform: InputTransform, x_val: np.ndarray, y_val: np.ndarray,
                    enc_cfg: EncoderConfig, device: torch.device | str,
                    on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """The encoder trained on pairs streamed from the train shards (``train.pairs_per_epoch`` anchors an epoch,
    ``train.stream_buffer_rows`` replicas a buffer), validated on the in-memory features ``x_val``."""
    stream = ShardStream(corpus_dir, "train", tp.batch_size, tp.positive_fraction, tp.stream_buffer_rows, tp.seed,
                         transform)
    return train_encoder_streaming(stream, x_val, y_val, enc_cfg, TrainConfig.from_params(tp), device,
                                   on_epoch=on_epoch, anchors_per_epoch=tp.pairs_per_epoch)


@dataclass(frozen=True)
class StreamedTrain:
    """What the stage keeps of the train split: ids, latents ``z``/``zp``, probe targets, clipped fraction."""

    label: np.ndarray
    replica: np.ndarray
    z: np.ndarray
    zp: np.ndarray
    targets: dict[str, np.ndarray]
    clipped_fraction: float


def embed_train_streaming(corpus_dir: Path, data: TrainingData, transform: InputTransform, encoder: Encoder,
                          pca: CovariancePCA, zpeak_col: str, device: torch.device | str) -> StreamedTrain:
    """One streamed pass over the train split: every replica's latent, PCA coordinates and probe targets."""
    th = data.theory
    parts: dict[str, list] = {"label": [], "replica": [], "z": [], "zp": []}
    tgt: dict[str, list] = {}
    clipped, cells = 0.0, 0
    for x, label, replica in train_chunks(corpus_dir, data.columns):
        f = transform(x)
        parts["label"].append(label)
        parts["replica"].append(replica)
        parts["z"].append(embed(encoder, f, device))
        parts["zp"].append(pca.transform(f).astype(np.float32))
        for k, v in probe_targets(x, label, data.columns, th.operators, th.coeffs, zpeak_col).items():
            tgt.setdefault(k, []).append(v)
        clipped += transform.clipped_fraction(x) * x.size
        cells += x.size
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return StreamedTrain(cat["label"], cat["replica"], cat["z"], cat["zp"],
                         {k: np.concatenate(v) for k, v in tgt.items()}, clipped / max(cells, 1))


def study_streaming(params: Params, corpus_dir: Path, data: TrainingData, device: torch.device | str,
                    on_epoch: Callable[[dict], None]) -> TrainStudy:
    """The streamed path (``train.streaming``): the same outputs as the in-memory path, from streamed passes."""
    tp, th, sp = params.train, data.theory, data.splits
    transform, pca = fit_transform_streaming(tp, corpus_dir, data)
    feats = {s: transform(sp[s].x) for s in ("val", "test")}
    res = train_streaming(tp, corpus_dir, transform, feats["val"], sp["val"].label,
                          encoder_config(tp, len(data.columns)), device, on_epoch)
    zcol = zpeak_column(data.columns, params)
    tr = embed_train_streaming(corpus_dir, data, transform, res.encoder, pca, zcol, device)
    z = {"train": tr.z} | {s: embed(res.encoder, f, device) for s, f in feats.items()}
    zp = {"train": tr.zp} | {s: pca.transform(f).astype(np.float32) for s, f in feats.items()}
    tgt = {"train": tr.targets,
           "test": probe_targets(sp["test"].x, sp["test"].label, data.columns, th.operators, th.coeffs, zcol)}
    labels = {"train": tr.label, "val": sp["val"].label, "test": sp["test"].label}
    metrics = metrics_summary(params, th, res, labels, tgt, z, zp, float(pca.explained_variance_ratio_.sum()),
                              tr.clipped_fraction, device, "streaming")
    ids = {"train": SplitIds(tr.label, tr.replica), "val": sp["val"], "test": sp["test"]}
    return TrainStudy(res, transform, z, zp, ids, metrics, sp["val"].x[:8])

"""The train stage with ``train.streaming: true``: streamed transform/PCA equal the in-memory fits, the streamed
encoder validates like the in-memory one, the outputs have the same form, bad settings are clear errors."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from sklearn.decomposition import PCA

from smeftfm.config import parse_params
from smeftfm.data.parquet_io import read_parquet
from smeftfm.errors import ConfigError
from smeftfm.models.bundle import load_encoder
from smeftfm.models.datasets import load_split
from smeftfm.models.stream_study import fit_transform_streaming, load_streaming_data
from smeftfm.models.transforms import InputTransform
from smeftfm.stages.models import run_train

from .test_stages import TINY

SEEDS = range(6)


@pytest.fixture
def sharded(synthetic_data):
    """The synthetic corpus with its train split re-cut into 3 shards (2 universes each) of 32-row row groups, so
    the stream mixes row groups from several shards in buffers smaller than the split (schema metadata kept)."""
    root, info = synthetic_data
    d = root / "corpus" / "split=train"
    table = pq.read_table(d / "part-00000.parquet")
    (d / "part-00000.parquet").unlink()
    lab = table.column("label").to_numpy()
    for k, lo in enumerate(range(0, 6, 2)):
        pq.write_table(table.take(np.flatnonzero((lab >= lo) & (lab < lo + 2))), d / f"part-{k:05d}.parquet",
                       row_group_size=32)
    return root, info


def _train(root, tag, **train):
    params = parse_params({"train": TINY["train"] | {"stream_buffer_rows": 256} | train})
    out = root / tag
    m = run_train(params, root / "corpus", root / "spectra.parquet", root / "universes.parquet", out / "model",
                  out / "emb", out / "train.json", out / "loss.csv")
    return m, out


def test_streamed_transform_and_pca_equal_the_in_memory_fits(sharded):
    """One streamed pass of shifted float64 sums gives the transform's mean/std and the features' PCA of the
    whole split: equal to InputTransform.fit and scikit-learn's PCA to float64 rounding (components up to sign)."""
    root, _ = sharded
    tp = parse_params({"train": TINY["train"] | {"latent_dim": 3}}).train
    data = load_streaming_data(root / "corpus", root / "spectra.parquet", root / "universes.parquet")
    transform, pca = fit_transform_streaming(tp, root / "corpus", data)
    x = load_split(root / "corpus", "train").x
    ref = InputTransform.fit(tp.input_transform, x, data.theory.y_sm, tp.transform_floor)
    np.testing.assert_allclose(transform.mean, ref.mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(transform.std, ref.std, rtol=1e-8)
    ref_pca = PCA(n_components=3, svd_solver="full").fit(ref(x).astype(np.float64))
    np.testing.assert_allclose(pca.explained_variance_ratio_, ref_pca.explained_variance_ratio_, rtol=1e-6)
    cos = np.abs(np.sum(pca.components_ * ref_pca.components_, axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-6)


def test_streamed_stage_validates_like_the_in_memory_stage(sharded):
    """Streaming changes only the order and the pool (one buffer) the pairs are drawn from, so over seeds the
    best validation losses of the two paths have the same distribution. Tolerance: the means over 6 seeds agree
    within 3 standard errors of their difference (seed-to-seed spread here ~30 % of the mean: measured 0.0037 +-
    0.0012 streamed vs 0.0040 +- 0.0012 in memory). A pass ending on one-universe buffers (the tail fixed in
    ShardStream.buffers) missed by 4.4 standard errors (0.0071 +- 0.0013); a stream that did not train stays at the
    initial loss (~0.34)."""
    root, _ = sharded
    runs = {p: [_train(root, f"{p}{s}", streaming=p, seed=s)[0] for s in SEEDS] for p in (False, True)}
    loss = {p: np.array([m["best_val_loss"] for m in ms]) for p, ms in runs.items()}
    se = np.sqrt(loss[True].var(ddof=1) / len(SEEDS) + loss[False].var(ddof=1) / len(SEEDS))
    assert abs(loss[True].mean() - loss[False].mean()) < 3 * se, (loss, se)
    assert loss[True].max() < 0.05  # every streamed run learned (initial loss ~0.34)
    m_mem, m_str = runs[False][0], runs[True][0]
    assert {m_mem["training_path"], m_str["training_path"]} == {"in_memory", "streaming"}
    assert set(m_str) == set(m_mem) and set(m_str["encoder"]) == set(m_mem["encoder"])
    for k in ("n_train", "n_val", "n_test", "n_universes"):
        assert m_str[k] == m_mem[k]
    assert m_str["clipped_fraction_train"] == pytest.approx(m_mem["clipped_fraction_train"], abs=1e-12)
    assert m_str["pca_explained_variance"] == pytest.approx(m_mem["pca_explained_variance"], rel=1e-5)
    assert m_str["encoder"]["knn_accuracy"] > 0.9


def test_streamed_stage_outputs(sharded):
    """train.json, the loss curve and the embeddings of every train replica (streamed pass) from the saved
    bundle applied to the raw spectra."""
    root, _ = sharded
    m, out = _train(root, "s", streaming=True)
    assert json.loads((out / "train.json").read_text()) == m
    rep = read_parquet(out / "emb" / "replicas.parquet")
    assert {"z_0", "z_1", "pca_0", "pca_1"} <= set(rep.columns)
    tr = load_split(root / "corpus", "train")
    model, meta = load_encoder(out / "model")
    assert meta["train"]["streaming"] is True
    with torch.no_grad():
        z = model(torch.as_tensor(tr.x)).numpy()
    got = rep[rep["split"] == "train"].set_index(["label", "replica"]).loc[list(zip(tr.label, tr.replica))]
    assert len(got) == len(tr.label) == m["n_train"]
    np.testing.assert_allclose(got[["z_0", "z_1"]].to_numpy(), z, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("train", "words"), [
    ({"streaming": "maybe"}, "train.streaming"),
    ({"streaming": True, "nproc": 2}, "train.nproc: 1"),
    ({"streaming": True, "stream_buffer_rows": 100, "batch_size": 128}, "stream_buffer_rows"),
])
def test_bad_streaming_settings_are_clear_errors(train, words):
    with pytest.raises(ConfigError, match=words):
        parse_params({"train": train})

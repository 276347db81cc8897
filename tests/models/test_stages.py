"""The train and heads stages end to end on a small synthetic corpus (contract format)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from smeftfm.config import parse_params
from smeftfm.data.parquet_io import read_parquet
from smeftfm.data.templates_io import write_templates
from smeftfm.errors import DataError
from smeftfm.models.bundle import load_encoder
from smeftfm.physics.oracle import DEFAULT_BINNINGS, Templates
from smeftfm.stages.models import run_heads, run_train

TINY = {
    "train": {"depth": 2, "width": 32, "dropout": 0.1, "l2": 1e-3, "lr": 3e-3, "batch_size": 128,
              "pairs_per_epoch": 4096, "val_pairs": 1000, "max_epochs": 8, "patience": 3, "silhouette_n": 300,
              "knn_k": 5},
    "heads": {"dpn_epochs": 10, "dpn_hidden": 32, "dpn_batch_size": 512, "grid_n": 20, "n_sm_replicas": 400,
              "n_anomaly_replicas": 100, "zshift_density": "binned"},
}


@pytest.fixture
def staged(synthetic_data, toy_sm):
    torch.set_num_threads(1)
    root, info = synthetic_data
    # linear templates reproducing the toy universes: SM + sum_k C_k lin_k
    x = np.linspace(0, 1, 92)
    shapes = np.stack([x**2, np.sin(3 * np.pi * x), np.exp(-((x - 0.2) / 0.05) ** 2)])
    values = np.vstack([toy_sm, 0.6 * toy_sm * shapes])
    write_templates(Templates(DEFAULT_BINNINGS, tuple(info["ops"]), "linear", values), root / "templates.parquet")
    params = parse_params(TINY)
    out = {
        "model": root / "models" / "encoder", "emb": root / "embeddings", "m_train": root / "m" / "train.json",
        "plot": root / "plots" / "train_loss.csv", "heads": root / "heads", "m_heads": root / "m" / "heads.json",
    }
    m = run_train(params, root / "corpus", root / "spectra.parquet", root / "universes.parquet", out["model"],
                  out["emb"], out["m_train"], out["plot"])
    return root, info, params, out, m


def test_train_stage_outputs_and_metrics(staged):
    root, info, params, out, m = staged
    assert json.loads(out["m_train"].read_text()) == m
    for side in ("encoder", "pca"):
        assert 0.0 <= m[side]["knn_accuracy"] <= 1.0
        assert {"silhouette", "r2_log_zpeak", "r2_mll_highest", "r2_C_clq1", "r2_C_mean"} <= set(m[side])
    assert m["encoder"]["knn_accuracy"] > 0.9  # six well separated toy universes
    curve = pd.read_csv(out["plot"])
    assert list(curve.columns[:3]) == ["epoch", "train_loss", "val_loss"] and curve["epoch"].iloc[0] == 0
    rep = read_parquet(out["emb"] / "replicas.parquet")
    assert set(rep["split"]) == {"train", "val", "test"} and {"z_0", "z_1", "pca_0", "pca_1"} <= set(rep.columns)
    uni = read_parquet(out["emb"] / "universes.parquet")
    assert len(uni) == 6 and (uni["n_test"] == 12).all()
    # the saved bundle maps raw spectra to the same latent as the stored test embeddings
    model, meta = load_encoder(out["model"])
    from smeftfm.models.datasets import load_split

    te = load_split(root / "corpus", "test")
    with torch.no_grad():
        z = model(torch.as_tensor(te.x)).numpy()
    np.testing.assert_allclose(z, rep[rep["split"] == "test"][["z_0", "z_1"]].to_numpy(), rtol=1e-4, atol=1e-4)


def test_heads_stage_outputs(staged):
    root, info, params, out, _ = staged
    m = run_heads(params, out["emb"], out["model"], root / "spectra.parquet", root / "universes.parquet",
                  root / "templates.parquet", out["heads"], out["m_heads"])
    assert 0 <= m["dpn"]["accuracy"] <= 1 and 0 <= m["dpn"]["ece"] <= 1
    assert set(m["anomaly"]) == {"sm_reference", "tail", "zshift", "resonance", "combined"}
    assert set(m["retrieval"]) == {"1sigma", "3sigma", "6sigma"}
    maps = read_parquet(out["heads"] / "latent_maps.parquet")
    assert len(maps) == 400 and (maps["mi"] >= 0).all() and (maps["entropy"] <= np.log(6) + 1e-9).all()
    table = json.loads((out["heads"] / "retrieval_table.json").read_text())
    counts = [lvl["count"] for lvl in table["levels"]]
    assert counts == sorted(counts)  # nested contours
    per = read_parquet(out["heads"] / "retrieval_universes.parquet")
    assert (per["chi2"] > 0).all()


def test_train_rejects_missing_corpus(tmp_path):
    with pytest.raises(DataError, match="run the"):
        run_train(parse_params(TINY), tmp_path / "nope", tmp_path / "s.parquet", tmp_path / "u.parquet",
                  tmp_path / "m", tmp_path / "e", tmp_path / "t.json", tmp_path / "p.csv")


def test_train_rejects_corpus_from_other_spectra(synthetic_data, tmp_path):
    root, _ = synthetic_data
    import pyarrow.parquet as pq

    from smeftfm.data.parquet_io import write_parquet

    shard = root / "corpus" / "split=train" / "part-00000.parquet"
    write_parquet(pq.read_table(shard), shard, {"spectra_sha256": "0000000000000000"})
    with pytest.raises(DataError, match="different"):
        run_train(parse_params(TINY), root / "corpus", root / "spectra.parquet", root / "universes.parquet",
                  tmp_path / "m", tmp_path / "e", tmp_path / "t.json", tmp_path / "p.csv")

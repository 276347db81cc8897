"""Promotion with an MLflow registry alias, and the heads stage loading models:/smeftfm-encoder@champion."""

from __future__ import annotations

import pytest
import torch

from smeftfm.config import parse_params
from smeftfm.errors import SmeftfmError
from smeftfm.models.registry import load_heads_encoder, promote
from smeftfm.stages.models import run_train

from .test_tracking_model import TINY


@pytest.fixture
def two_versions(synthetic_data, tmp_path, monkeypatch):
    """Two train runs (seeds 0 and 1) registered as versions 1 and 2 in a sqlite store in tmp."""
    torch.set_num_threads(1)
    root, _ = synthetic_data
    monkeypatch.setenv("SMEFTFM_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SMEFTFM_PIPELINE_ID", "test-registry")
    monkeypatch.chdir(tmp_path)
    dirs, knn = [], []
    for seed in (0, 1):
        p = parse_params({"train": TINY["train"] | {"seed": seed}})
        m = run_train(p, root / "corpus", root / "spectra.parquet", root / "universes.parquet",
                      tmp_path / f"enc{seed}", tmp_path / f"emb{seed}", tmp_path / f"t{seed}.json",
                      tmp_path / f"p{seed}.csv")
        dirs.append(tmp_path / f"enc{seed}")
        knn.append(m["encoder"]["knn_accuracy"])
    return dirs, knn


def test_champion_alias_resolves_in_the_heads_loader(two_versions):
    dirs, knn = two_versions
    r = promote(version=1)
    assert r["uri"] == "models:/smeftfm-encoder@champion" and r["version"] == 1
    model, _, source = load_heads_encoder("models:/smeftfm-encoder@champion", dirs[0])
    assert source == "models:/smeftfm-encoder@champion"
    local, _, _ = load_heads_encoder(None, dirs[0])
    y = torch.rand(5, 92) + 0.5
    torch.testing.assert_close(model(y), local(y))  # the registry model is the encoder of enc0
    with pytest.raises(SmeftfmError, match="not the encoder"):  # embeddings of enc1 with the v1 champion
        load_heads_encoder("models:/smeftfm-encoder@champion", dirs[1])
    # move the alias: newest version, then the best by a logged metric
    assert promote()["version"] == 2
    load_heads_encoder("models:/smeftfm-encoder@champion", dirs[1])
    best = promote(best_by="encoder.knn_accuracy")
    assert best["version"] == (1 if knn[0] > knn[1] else 2)  # ties go to the newest version
    assert best["value"] == pytest.approx(max(knn))
    assert promote(best_by="best_val_loss", lower_is_better=True)["value"] > 0
    with pytest.raises(SmeftfmError, match="cannot load"):
        load_heads_encoder("models:/smeftfm-encoder@nobody", dirs[0])
    with pytest.raises(SmeftfmError, match="no version 7"):
        promote(version=7)

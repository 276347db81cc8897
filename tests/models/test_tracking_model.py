"""The train stage logs per-epoch losses and registers the encoder as an MLflow model (sqlite store in tmp)."""

import numpy as np
import torch

from smeftfm.config import parse_params
from smeftfm.stages.models import run_train

TINY = {"train": {"depth": 1, "width": 16, "dropout": 0.0, "l2": 0.0, "lr": 3e-3, "batch_size": 128,
                  "pairs_per_epoch": 1024, "val_pairs": 500, "max_epochs": 2, "patience": 2, "silhouette_n": 100,
                  "knn_k": 3}}


def test_encoder_registered_with_signature(synthetic_data, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    root, _ = synthetic_data
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("SMEFTFM_TRACKING", "on")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("SMEFTFM_PIPELINE_ID", "test-models")
    monkeypatch.chdir(tmp_path)
    run_train(parse_params(TINY), root / "corpus", root / "spectra.parquet", root / "universes.parquet",
              tmp_path / "enc", tmp_path / "emb", tmp_path / "t.json", tmp_path / "p.csv")
    import mlflow

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name='smeftfm-encoder'")
    assert len(versions) == 1
    run = client.get_run(versions[0].run_id)
    assert run.data.tags["stage"] == "train" and run.data.params["train.lr"] == "0.003"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")]
    assert steps == [0, 1, 2]
    model = mlflow.pyfunc.load_model("models:/smeftfm-encoder/1")
    sig = model.metadata.signature
    assert list(sig.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 92]
    x = np.abs(np.random.default_rng(0).normal(1.0, 0.1, size=(3, 92))).astype(np.float32)
    assert model.predict(x).shape == (3, 2)

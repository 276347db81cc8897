"""The contrastive `train` stage is deterministic on CPU: same seed, threads pinned, deterministic algorithms =>
byte-identical weights, embeddings and metrics (apart from wall-clock fields), docs/models.md "Determinism"."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from smeftfm.config import parse_params
from smeftfm.models.bundle import WEIGHTS
from smeftfm.stages.models import run_train

TINY = {"train": {"depth": 2, "width": 32, "dropout": 0.2, "l2": 1e-3, "lr": 3e-3, "batch_size": 128,
                  "pairs_per_epoch": 2048, "val_pairs": 500, "max_epochs": 4, "patience": 4, "silhouette_n": 200,
                  "knn_k": 5, "seed": 7}}
TIMING = {"train_seconds", "samples_per_second"}


@pytest.fixture
def deterministic_cpu(monkeypatch):
    monkeypatch.setenv("SMEFTFM_DEVICE", "cpu")
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


def _run(root, tag: str, params) -> tuple[dict, bytes, bytes]:
    out = root / tag
    m = run_train(params, root / "corpus", root / "spectra.parquet", root / "universes.parquet", out / "model",
                  out / "emb", out / "train.json", out / "loss.csv")
    return m, (out / "model" / WEIGHTS).read_bytes(), (out / "loss.csv").read_bytes()


def _strip(m: dict) -> str:
    return json.dumps({k: v for k, v in m.items() if k not in TIMING}, sort_keys=True)


def test_train_stage_same_seed_is_byte_identical(synthetic_data, deterministic_cpu):
    root, _ = synthetic_data
    params = parse_params(TINY)
    m1, w1, c1 = _run(root, "a", params)
    m2, w2, c2 = _run(root, "b", params)
    assert w1 == w2  # model weights, byte for byte
    assert _strip(m1) == _strip(m2)  # every metric except the wall-clock ones
    # the loss curve differs only in its per-epoch seconds column
    rows1 = [r.split(",") for r in c1.decode().splitlines()]
    rows2 = [r.split(",") for r in c2.decode().splitlines()]
    keep = [i for i, h in enumerate(rows1[0]) if "second" not in h]
    assert [[r[i] for i in keep] for r in rows1] == [[r[i] for i in keep] for r in rows2]
    e1 = (root / "a" / "emb" / "replicas.parquet").read_bytes()
    assert e1 == (root / "b" / "emb" / "replicas.parquet").read_bytes()


def test_train_stage_other_seed_differs(synthetic_data, deterministic_cpu):
    """The test above can fail: a different seed gives different weights."""
    root, _ = synthetic_data
    _, w1, _ = _run(root, "a", parse_params(TINY))
    _, w2, _ = _run(root, "c", parse_params({"train": {**TINY["train"], "seed": 8}}))
    assert w1 != w2 and np.isfinite(len(w2))

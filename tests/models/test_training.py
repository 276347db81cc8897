import numpy as np
import torch

from smeftfm.config import TrainParams
from smeftfm.models.datasets import load_split, load_theory
from smeftfm.models.encoder import Encoder, EncoderConfig, embed
from smeftfm.models.training import TrainConfig, train_encoder
from smeftfm.models.transforms import InputTransform


def _features(root):
    th = load_theory(root / "spectra.parquet", root / "universes.parquet")
    tr, va = load_split(root / "corpus", "train"), load_split(root / "corpus", "val")
    t = InputTransform.fit("log_ratio_sm", tr.x, th.y_sm)
    return t(tr.x), tr.label, t(va.x), va.label


def test_paper_architecture_shapes_and_l2():
    enc = Encoder(EncoderConfig())
    kinds = [type(m).__name__ for m in enc.net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert enc.net[0].in_features == 92 and enc.net[0].out_features == 100 and enc.net[-1].out_features == 2
    assert enc.net[3].p == 0.35
    expected = sum(float((enc.net[k].weight.detach() ** 2).sum()) for k in (0, 4, 8))
    assert abs(float(enc.kernel_l2().detach()) - expected) < 1e-4 * expected


def test_tiny_training_decreases_validation_loss_and_is_deterministic(synthetic_data):
    torch.set_num_threads(1)
    root, _ = synthetic_data
    xtr, ytr, xva, yva = _features(root)
    enc_cfg = EncoderConfig(n_inputs=92, depth=2, width=32, latent_dim=2, dropout=0.1)
    cfg = TrainConfig.from_params(TrainParams(), lr=3e-3, l2=1e-3, margin=1.0, batch_size=128, pairs_per_epoch=2048,
                                  val_pairs=1000, max_epochs=6, patience=6, seed=3)
    res = train_encoder(xtr, ytr, xva, yva, enc_cfg, cfg)
    val = [h["val_loss"] for h in res.history]
    assert res.best_val_loss < 0.6 * val[0]
    assert res.best_epoch >= 1
    res2 = train_encoder(xtr, ytr, xva, yva, enc_cfg, cfg)
    assert [h["val_loss"] for h in res2.history] == val
    z = embed(res.encoder, xva)
    assert z.shape == (len(yva), 2) and np.isfinite(z).all()


def test_early_stopping_restores_best_epoch(synthetic_data):
    torch.set_num_threads(1)
    root, _ = synthetic_data
    xtr, ytr, xva, yva = _features(root)
    cfg = TrainConfig.from_params(TrainParams(), lr=1e-9, l2=0.0, batch_size=128, pairs_per_epoch=512,
                                  val_pairs=500, max_epochs=20, patience=2, min_delta=1.0, seed=0)
    # no epoch can improve by 1.0: stop after 2
    res = train_encoder(xtr, ytr, xva, yva, EncoderConfig(depth=1, width=8), cfg)
    assert res.stopped_early and len(res.history) == 3 and res.best_epoch == 0

"""DDP with dropout: 2 gloo ranks vs one process at the same global batch, compared in distribution over seeds.

Dropout masks are drawn per rank, so a DDP run is not the single-process run step by step (the test
``tests/models/test_distributed.py`` compares them exactly with dropout off); this script checks that the final
validation losses of the two have the same distribution. It trains a small batch-norm + dropout encoder on a toy
corpus (6 universes) for each seed, once in this process and once on 2 torchrun ranks, and prints the mean and
spread of each and the difference in standard errors. One thread per process; about a minute on this machine.

    python benchmarks/ddp_dropout.py [--seeds 6] [--dropout 0.35]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from smeftfm.models.distributed import launch
from smeftfm.models.encoder import EncoderConfig
from smeftfm.models.training import TrainConfig, train_encoder


def toy(n_univ: int = 6, n_rep: int = 80, n_bins: int = 92, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised log spectra ``[n_univ * n_rep, n_bins]`` of ``n_univ`` smooth toy universes with 5 % noise."""
    rng = np.random.default_rng(seed)
    u = np.random.default_rng(0).uniform(-1, 1, size=(n_univ, 3))
    t = np.linspace(0, 1, n_bins)
    y = np.exp(-5 * t) * (1 + 0.6 * u @ np.stack([t**2, np.sin(3 * np.pi * t), np.exp(-((t - 0.2) / 0.05) ** 2)]))
    lab = np.repeat(np.arange(n_univ), n_rep)
    x = np.log(y[lab] * (1 + 0.05 * rng.standard_normal((lab.size, n_bins))))
    return ((x - x.mean(0)) / (x.std(0) + 1e-6)).astype(np.float32), lab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--dropout", type=float, default=0.35)
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, lab = toy()
    xv, labv = toy(seed=1)
    enc = EncoderConfig(n_inputs=x.shape[1], depth=2, width=24, latent_dim=2, dropout=args.dropout, batch_norm=True)
    loss: dict[str, list[float]] = {"single": [], "ddp": []}
    for seed in range(args.seeds):
        cfg = TrainConfig(lr=1e-3, l2=0.01, margin=1.0, batch_size=64, pairs_per_epoch=768, val_pairs=500,
                          positive_fraction=0.5, max_epochs=3, patience=10, min_delta=0.0, seed=seed, amp=False)
        loss["single"].append(train_encoder(x, lab, xv, labv, enc, cfg).history[-1]["val_loss"])
        loss["ddp"].append(launch(2, x, lab, xv, labv, enc, cfg).history[-1]["val_loss"])
        print(f"seed {seed}: val loss single {loss['single'][-1]:.4f}  ddp(2 ranks) {loss['ddp'][-1]:.4f}", flush=True)
    s, d = np.array(loss["single"]), np.array(loss["ddp"])
    se = np.sqrt(s.var(ddof=1) / s.size + d.var(ddof=1) / d.size)
    print(f"single: {s.mean():.4f} +- {s.std(ddof=1):.4f}   ddp: {d.mean():.4f} +- {d.std(ddof=1):.4f}  "
          f"({args.seeds} seeds, dropout {args.dropout})")
    print(f"ddp - single: {d.mean() - s.mean():+.4f} = {(d.mean() - s.mean()) / se:+.2f} standard errors")


if __name__ == "__main__":
    main()

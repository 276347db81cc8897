"""Learning-rate scan of the contrastive encoder on a real corpus (the measurement behind ``train.lr``).

For each learning rate the paper's architecture is trained for the same budget (epochs x pairs) on the
train split; the validation contrastive loss (fixed pairs, eval mode) after every epoch is printed, plus the
test-replica k-NN accuracy of the final encoder. Everything else is ``params.yaml``'s ``train`` section.
With ``--out`` the scan is also written as JSON (git-tracked ``reports/metrics/benchmarks/lr_scan.json``), keyed by
learning rate (``by_lr.<lr as 1e-04>.{val_loss, best_val, best_epoch, knn_test, seconds}``) for docs-sync markers.

    .venv/bin/python benchmarks/lr_scan.py --corpus data/corpus --spectra data/spectra.parquet \\
        --universes data/universes.parquet [--lrs 1e-6 1e-5 1e-4 1e-3 1e-2] [--epochs 8] [--pairs 100000] \\
        [--out reports/metrics/benchmarks/lr_scan.json]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from smeftfm.atomic import write_json
from smeftfm.config import load_params
from smeftfm.models.baselines import knn_accuracy
from smeftfm.models.datasets import load_split, load_theory
from smeftfm.models.encoder import EncoderConfig, embed
from smeftfm.models.training import TrainConfig, train_encoder
from smeftfm.models.transforms import InputTransform


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    ap.add_argument("--spectra", type=Path, default=Path("data/spectra.parquet"))
    ap.add_argument("--universes", type=Path, default=Path("data/universes.parquet"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--transform", default=None, help="override train.input_transform")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="also write the scan as JSON here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tp = load_params(a.params).train
    th = load_theory(a.spectra, a.universes)
    sp = {s: load_split(a.corpus, s) for s in ("train", "val", "test")}
    t = InputTransform.fit(a.transform or tp.input_transform, sp["train"].x, th.y_sm, tp.transform_floor)
    f = {s: t(v.x) for s, v in sp.items()}
    enc_cfg = EncoderConfig(depth=tp.depth, width=tp.width, latent_dim=tp.latent_dim, dropout=tp.dropout)
    print(f"transform={t.kind} epochs={a.epochs} pairs/epoch={a.pairs} batch={tp.batch_size} l2={tp.l2} "
          f"margin={tp.margin}")
    scan = {"settings": {"transform": t.kind, "epochs": a.epochs, "pairs_per_epoch": a.pairs,
                         "batch_size": tp.batch_size, "l2": tp.l2, "margin": tp.margin, "knn_k": tp.knn_k,
                         "threads": a.threads, "n_train": len(sp["train"].label)}, "by_lr": {}}
    for lr in a.lrs:
        cfg = TrainConfig.from_params(tp, lr=lr, pairs_per_epoch=a.pairs, max_epochs=a.epochs,
                                      patience=a.epochs)
        t0 = time.perf_counter()
        res = train_encoder(f["train"], sp["train"].label, f["val"], sp["val"].label, enc_cfg, cfg)
        z_tr, z_te = embed(res.encoder, f["train"]), embed(res.encoder, f["test"])
        acc = knn_accuracy(z_tr, sp["train"].label, z_te, sp["test"].label, tp.knn_k)
        curve = " ".join(f"{h['val_loss']:.4f}" for h in res.history)
        seconds = time.perf_counter() - t0
        print(f"lr={lr:.0e} best_val={res.best_val_loss:.4f} (epoch {res.best_epoch}) knn_test={acc:.3f} "
              f"[{seconds:.0f}s] val curve: {curve}", flush=True)
        scan["by_lr"][f"{lr:.0e}"] = {"lr": lr, "val_loss": [h["val_loss"] for h in res.history],
                                      "best_val": res.best_val_loss, "best_epoch": res.best_epoch,
                                      "knn_test": float(acc), "seconds": seconds}
        if a.out is not None:  # after every rate, so a stopped scan keeps what it measured
            write_json(a.out, scan)


if __name__ == "__main__":
    main()

"""Training throughput of the contrastive encoder: full pipeline vs a bare loop over pre-made tensors.

Full pipeline = one :meth:`ContrastiveTrainer.run_epoch`: draw the epoch's pair indices, gather both sides from
the in-memory feature tensor, forward both through the encoder in one pass, eq. 3.19 + L2, backward, Adam step.
Bare loop = the same model, loss and optimiser stepping over batches that were gathered before the clock
started. The ratio full / bare is the data-feeding efficiency (target >= 70 %). A sample is one replica
through the encoder (a pair counts two). Runs on CPU and, when present, on CUDA.

    .venv/bin/python benchmarks/train.py [--rows 800000] [--pairs 200000] [--batch 1024] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from smeftfm.config import TrainParams
from smeftfm.models.encoder import Encoder, EncoderConfig
from smeftfm.models.losses import contrastive_loss
from smeftfm.models.training import ContrastiveTrainer, TrainConfig


def bare_loop(enc: Encoder, opt, batches, l2: float, margin: float) -> None:
    for xi, xj, y in batches:
        n = xi.shape[0]
        z = enc(torch.cat([xi, xj]))
        loss = contrastive_loss(z[:n], z[n:], y, margin) + l2 * enc.kernel_l2()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def measure(device: str, rows: int, pairs: int, batch: int, repeats: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 92)).astype(np.float32)
    labels = np.repeat(np.arange(100), rows // 100)
    x = x[: len(labels)]
    cfg = TrainConfig.from_params(TrainParams(), pairs_per_epoch=pairs, batch_size=batch, seed=0, amp=True)
    trainer = ContrastiveTrainer(x, labels, EncoderConfig(), cfg, device)
    trainer.run_epoch()  # warm-up
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    # bare loop: same model and optimiser, batches gathered in advance (device tensors)
    i, j, y = trainer.sampler.sample(pairs, np.random.default_rng(1))
    xt = trainer.x
    batches = [(xt[torch.from_numpy(i[s:s + batch]).to(device)], xt[torch.from_numpy(j[s:s + batch]).to(device)],
                torch.from_numpy(y[s:s + batch]).to(device)) for s in range(0, pairs - batch + 1, batch)]
    n_samples = 2 * sum(b[0].shape[0] for b in batches)
    enc, opt = trainer.encoder, trainer.opt
    full, bare = [], []
    for _ in range(repeats):  # interleaved, so that a change in machine load hits both alike
        sync()
        t0 = time.perf_counter()
        _, seen = trainer.run_epoch()
        sync()
        full.append(2 * seen / (time.perf_counter() - t0))
        enc.train()
        sync()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.float16, enabled=trainer.use_amp):
            bare_loop(enc, opt, batches, cfg.l2, cfg.margin)
        sync()
        bare.append(n_samples / (time.perf_counter() - t0))
    return float(np.median(full)), float(np.median(bare))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=800_000, help="train replicas in memory")
    ap.add_argument("--pairs", type=int, default=100_000, help="pairs per timed epoch")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        full, bare = measure(dev, a.rows, a.pairs, a.batch, a.repeats)
        print(f"[{dev}] threads={a.threads} batch={a.batch} pairs/epoch={a.pairs} rows={a.rows}")
        print(f"[{dev}] full pipeline : {full:12,.0f} samples/s")
        print(f"[{dev}] bare loop     : {bare:12,.0f} samples/s")
        print(f"[{dev}] ratio full/bare: {full / bare:6.1%}  (target >= 70%)")
    if "cuda" not in devices:
        print("[cuda] no GPU present: no GPU figure")


if __name__ == "__main__":
    main()

"""Distributed data-parallel training of the encoder with ``torchrun`` (gloo on CPU, NCCL on GPUs).

The ``train`` stage calls :func:`launch` when ``train.nproc > 1``: it writes the features to a temporary folder and
starts ``torchrun --standalone --nproc_per_node <nproc> -m smeftfm.models.distributed``. Every rank then runs
:func:`train_ddp`:

* all ranks draw the *same* global pairs from the same seeded generator as the single-process trainer
  (:class:`~smeftfm.models.pairs.PairSampler`), and each takes its contiguous share of every global batch of
  ``train.batch_size`` pairs; ``DistributedDataParallel`` averages the gradients, so with equal shares one step is
  the single-process step at the same global batch (exactly so without BatchNorm and dropout, whose statistics and
  masks are per rank);
* validation and early stopping run identically on every rank (same weights, same fixed pairs);
* only rank 0 writes outputs (the trained weights and history); the stage process, which is not a rank, does all
  MLflow logging, so nothing is logged twice.

On a multi-GPU node each rank uses ``cuda:<LOCAL_RANK>``; on CPU ranks share the cores (set ``OMP_NUM_THREADS``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..errors import SmeftfmError
from .encoder import Encoder, EncoderConfig
from .losses import contrastive_loss
from .pairs import PairSampler
from .training import TrainConfig, TrainResult, fit_early_stopping, pair_loss, seed_everything, train_encoder

__all__ = ["fit_encoder", "launch", "main", "train_ddp"]


def _setup() -> tuple[int, int, torch.device]:
    """Join the process group started by torchrun; returns (rank, world size, device)."""
    cuda = torch.cuda.is_available() and os.environ.get("SMEFTFM_DEVICE", "") != "cpu"
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def train_ddp(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
              enc_cfg: EncoderConfig, cfg: TrainConfig, device: torch.device) -> TrainResult:
    """The body of every rank (process group already initialised): same pairs, split batches, averaged grads."""
    rank, world = dist.get_rank(), dist.get_world_size()
    if cfg.batch_size < 2 * world:
        raise SmeftfmError(f"train.batch_size {cfg.batch_size} leaves fewer than 2 pairs per rank for {world} ranks")
    seed_everything(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    x = torch.as_tensor(x_train, dtype=torch.float32).to(device)
    sampler = PairSampler(np.asarray(y_train), cfg.positive_fraction)
    encoder = Encoder(enc_cfg).to(device)
    model = DistributedDataParallel(encoder, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    use_amp = bool(cfg.amp and device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    vi, vj, vy = PairSampler(np.asarray(y_val), cfg.positive_fraction).sample(cfg.val_pairs,
                                                                             np.random.default_rng(cfg.seed + 1))
    xv = torch.as_tensor(x_val, dtype=torch.float32).to(device)
    vi_t, vj_t, vy_t = (torch.from_numpy(a).to(device) for a in (vi, vj, vy))

    def run_epoch(epoch: int) -> tuple[float, int, dict]:
        """One epoch of this rank's share of every global batch; loss and pairs summed over all ranks."""
        encoder.train()
        i, j, y = sampler.sample(cfg.pairs_per_epoch, rng)
        total = torch.zeros(2, dtype=torch.float64, device=device)  # sum of losses, pairs
        for s in range(0, len(i), cfg.batch_size):
            e = min(s + cfg.batch_size, len(i))
            if e - s < 2 * world:
                break
            share = np.array_split(np.arange(s, e), world)[rank]
            it, jt = torch.from_numpy(i[share]).to(device), torch.from_numpy(j[share]).to(device)
            yt = torch.from_numpy(y[share]).to(device)
            n = len(share)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                z = model(torch.cat([x[it], x[jt]]))
            z = z.float()
            closs = contrastive_loss(z[:n], z[n:], yt, cfg.margin)
            loss = closs + cfg.l2 * encoder.kernel_l2() if cfg.l2 > 0 else closs
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += torch.tensor([float(closs.detach()) * n, n], dtype=torch.float64, device=device)
        dist.all_reduce(total)
        return float(total[0] / max(float(total[1]), 1.0)), int(total[1]), {}

    return fit_early_stopping(encoder, run_epoch, lambda: pair_loss(encoder, xv, vi_t, vj_t, vy_t, cfg.margin), cfg)


def main(argv: list[str] | None = None) -> None:
    """Entry point of every torchrun rank: ``--work DIR`` holds ``data.npz`` and ``config.json``."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", type=Path, required=True)
    work = ap.parse_args(argv).work
    conf = json.loads((work / "config.json").read_text())
    data = np.load(work / "data.npz")
    rank, _, device = _setup()
    try:
        res = train_ddp(data["x_train"], data["y_train"], data["x_val"], data["y_val"],
                        EncoderConfig(**conf["encoder"]), TrainConfig(**conf["train"]), device)
        if rank == 0:  # the only rank that writes
            tmp = work / "result.pt.tmp"
            torch.save({"state": {k: v.cpu() for k, v in res.encoder.state_dict().items()},
                        "history": res.history, "best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss,
                        "stopped_early": res.stopped_early, "seconds": res.seconds,
                        "samples_per_second": res.samples_per_second}, tmp)
            os.replace(tmp, work / "result.pt")
    finally:
        dist.destroy_process_group()


def launch(nproc: int, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
           enc_cfg: EncoderConfig, cfg: TrainConfig, threads_per_rank: int = 1) -> TrainResult:
    """Train on ``nproc`` ranks with torchrun and return rank 0's result (encoder on the CPU)."""
    if nproc < 1:
        raise SmeftfmError(f"train.nproc must be at least 1, got {nproc}")
    work = Path(tempfile.mkdtemp(prefix="smeftfm-ddp-"))
    try:
        np.savez(work / "data.npz", x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
        (work / "config.json").write_text(json.dumps({"encoder": enc_cfg.to_dict(), "train": asdict(cfg)}))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_rank))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "smeftfm.models.distributed", "--work", str(work)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not (work / "result.pt").exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise SmeftfmError(f"torchrun with {nproc} ranks failed (exit {proc.returncode}):\n{tail}")
        out = torch.load(work / "result.pt", weights_only=False)
        encoder = Encoder(enc_cfg)
        encoder.load_state_dict(out.pop("state"))
        encoder.eval()
        return TrainResult(encoder=encoder, **out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fit_encoder(nproc: int, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                enc_cfg: EncoderConfig, cfg: TrainConfig, device: torch.device | str = "cpu",
                on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """The ``train`` stage's training step: in this process (``nproc == 1``) or on ``nproc`` torchrun ranks, whose
    epochs are then reported to ``on_epoch`` here (only this process logs)."""
    if nproc <= 1:
        return train_encoder(x_train, y_train, x_val, y_val, enc_cfg, cfg, device, on_epoch)
    res = launch(nproc, x_train, y_train, x_val, y_val, enc_cfg, cfg)
    for rec in res.history if on_epoch else []:
        on_epoch(rec)
    return res


if __name__ == "__main__":
    main()

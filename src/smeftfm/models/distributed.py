"""Distributed data-parallel training of the encoder with ``torchrun`` (gloo on CPU, NCCL on GPUs).

The ``train`` stage calls :func:`launch` when ``train.nproc > 1``: it writes the features to a temporary folder and
starts ``torchrun --standalone --nproc_per_node <nproc> -m smeftfm.models.distributed``. Every rank then runs
:func:`train_ddp`:

* all ranks draw the *same* global pairs from the same seeded generator as the single-process trainer
  (:class:`~smeftfm.models.pairs.PairSampler`), and each takes its contiguous share of every global batch of
  ``train.batch_size`` pairs; ``DistributedDataParallel`` averages the gradients, so with equal shares one step is
  the single-process step at the same global batch;
* BatchNorm layers are made cross-rank (:func:`sync_batch_norm`): in training mode their mean and variance are
  taken over the whole global batch (all ranks), as in one process, and the gradients flow through those global
  statistics. On CUDA this is ``torch.nn.SyncBatchNorm``; on CPU, where torch (2.13) refuses it under DDP
  ("SyncBatchNorm layers only work with GPU modules"), :class:`CrossRankBatchNorm1d` does the same with two
  autograd-aware all-reduces over gloo. Eval mode uses the running statistics, which every rank updates alike;
* dropout masks are drawn per rank (each rank's generator), so with ``dropout > 0`` a DDP run and a single-process
  run are equal only in distribution, not step by step;
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
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import SmeftfmError
from .encoder import Encoder, EncoderConfig
from .losses import contrastive_loss
from .pairs import PairSampler
from .training import TrainConfig, TrainResult, fit_early_stopping, pair_loss, seed_everything, train_encoder

__all__ = ["CrossRankBatchNorm1d", "fit_encoder", "launch", "main", "sync_batch_norm", "train_ddp"]


class _SumOverRanks(torch.autograd.Function):
    """``all_reduce(SUM)`` whose backward is the all-reduced sum of the upstream gradients (every rank's loss
    depends on every rank's contribution to the sum)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = g.clone()
        dist.all_reduce(out)
        return out


class CrossRankBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training-mode statistics are those of the global batch across all DDP ranks.

    Mean and (biased) variance of every feature over the rows of all ranks, computed in two passes (sum, then sum
    of squared deviations) with autograd-aware all-reduces, so forward *and* backward are those of one BatchNorm on
    the concatenated batch. Running mean/var are updated with the global statistics (unbiased variance, as
    ``BatchNorm1d``), identically on every rank. Without a process group, or in eval mode, it is ``BatchNorm1d``;
    its state dict has the same keys, so weights load into a plain encoder.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        n = _SumOverRanks.apply(torch.tensor([float(x.shape[0])], dtype=x.dtype, device=x.device)).detach()
        mean = _SumOverRanks.apply(x.sum(0)) / n
        var = _SumOverRanks.apply(((x - mean) ** 2).sum(0)) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)  # type: ignore[union-attr]
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1).clamp(min=1))
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight + self.bias if self.affine else y


def sync_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every ``BatchNorm1d`` made cross-rank: ``torch.nn.SyncBatchNorm`` on CUDA,
    :class:`CrossRankBatchNorm1d` elsewhere (weights and running statistics copied)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm1d) and not isinstance(child, CrossRankBatchNorm1d):
            new = CrossRankBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine,
                                       child.track_running_stats).to(device)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            sync_batch_norm(child, device)
    return module


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
    encoder = sync_batch_norm(Encoder(enc_cfg).to(device), device)
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

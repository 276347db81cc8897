"""Contrastive training of the encoder with early stopping on the validation split.

Every epoch draws ``pairs_per_epoch`` fresh index pairs from the train replicas (:class:`PairSampler`),
gathers the two sides from the in-memory feature tensor and runs both through the encoder in one forward
pass (so BatchNorm sees one batch). The loss is eq. 3.19 plus ``l2 * sum(W**2)`` over the hidden kernels.
Validation uses a fixed pair set drawn once from the validation split (same seed -> same pairs), evaluated
in eval mode without the L2 term. The weights of the epoch with the lowest validation loss are restored.
On CUDA the forward pass runs under automatic mixed precision (float16 with a gradient scaler); on CPU the
run is deterministic for a given seed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from ..errors import SmeftfmError
from .encoder import Encoder, EncoderConfig
from .losses import contrastive_loss
from .pairs import PairSampler

__all__ = ["ContrastiveTrainer", "TrainConfig", "TrainResult", "fit_early_stopping", "pair_loss", "seed_everything",
           "train_encoder"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (``lr`` for Adam, ``l2`` the kernel penalty, ``margin`` in latent units).

    Every field is required: the defaults live in one place, :class:`smeftfm.config.TrainParams`
    (``params.yaml`` ``train``); build it with :meth:`from_params`.
    """

    lr: float
    l2: float
    margin: float
    batch_size: int
    pairs_per_epoch: int
    val_pairs: int
    positive_fraction: float
    max_epochs: int
    patience: int
    min_delta: float
    seed: int
    amp: bool

    @classmethod
    def from_params(cls, tp, **overrides) -> TrainConfig:
        """From a ``train`` params section (:class:`smeftfm.config.TrainParams`), with optional overrides."""
        names = [f.name for f in fields(cls)]
        return cls(**({n: getattr(tp, n) for n in names} | overrides))


@dataclass
class TrainResult:
    """The trained encoder (best validation epoch) and its per-epoch history."""

    encoder: Encoder
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False
    seconds: float = 0.0
    samples_per_second: float = 0.0


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) for reproducible initialisation and dropout."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@torch.no_grad()
def pair_loss(encoder: Encoder, x: torch.Tensor, i: torch.Tensor, j: torch.Tensor, y: torch.Tensor,
              margin: float, batch_size: int = 65536) -> float:
    """Mean contrastive loss of fixed pairs in eval mode (no L2 term)."""
    was = encoder.training
    encoder.eval()
    total = 0.0
    for s in range(0, len(i), batch_size):
        zi = encoder(x[i[s:s + batch_size]])
        zj = encoder(x[j[s:s + batch_size]])
        total += float(contrastive_loss(zi.float(), zj.float(), y[s:s + batch_size], margin, "sum"))
    encoder.train(was)
    return total / max(len(i), 1)


class ContrastiveTrainer:
    """Holds the model, optimiser and data tensors; :meth:`run_epoch` is one pass over fresh pairs."""

    def __init__(self, x_train: np.ndarray | torch.Tensor, y_train: np.ndarray, enc_cfg: EncoderConfig,
                 cfg: TrainConfig, device: torch.device | str = "cpu"):
        if cfg.batch_size < 2:
            raise SmeftfmError("train.batch_size must be at least 2 (BatchNorm needs more than one sample)")
        self.cfg = cfg
        self.device = torch.device(device)
        seed_everything(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.x = torch.as_tensor(x_train, dtype=torch.float32).to(self.device)
        self.sampler = PairSampler(np.asarray(y_train), cfg.positive_fraction)
        self.encoder = Encoder(enc_cfg).to(self.device)
        self.opt = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr)
        self.use_amp = bool(cfg.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def step(self, xi: torch.Tensor, xj: torch.Tensor, y: torch.Tensor) -> float:
        """One optimiser step on a batch of pairs; returns the contrastive part of the loss."""
        n = xi.shape[0]
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
            z = self.encoder(torch.cat([xi, xj]))
        z = z.float()
        closs = contrastive_loss(z[:n], z[n:], y, self.cfg.margin)
        loss = closs + self.cfg.l2 * self.encoder.kernel_l2() if self.cfg.l2 > 0 else closs
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return float(closs.detach())

    def run_epoch(self) -> tuple[float, int]:
        """Train on ``pairs_per_epoch`` fresh pairs; returns (mean contrastive loss, pairs seen)."""
        self.encoder.train()
        i, j, y = self.sampler.sample(self.cfg.pairs_per_epoch, self.rng)
        it = torch.from_numpy(i).to(self.device)
        jt = torch.from_numpy(j).to(self.device)
        yt = torch.from_numpy(y).to(self.device)
        bs = self.cfg.batch_size
        total, seen = 0.0, 0
        for s in range(0, len(it), bs):
            e = min(s + bs, len(it))
            if e - s < 2:  # BatchNorm cannot train on a single sample
                break
            total += self.step(self.x[it[s:e]], self.x[jt[s:e]], yt[s:e]) * (e - s)
            seen += e - s
        return total / max(seen, 1), seen


def train_encoder(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                  enc_cfg: EncoderConfig, cfg: TrainConfig, device: torch.device | str = "cpu",
                  on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train with early stopping on the validation contrastive loss; returns the best-epoch encoder.

    ``x_*`` are transformed features ``[n, n_inputs]``, ``y_*`` integer universe labels. ``on_epoch`` gets
    ``{"epoch", "train_loss", "val_loss", "seconds"}`` after each epoch (e.g. to log to MLflow).
    """
    trainer = ContrastiveTrainer(x_train, y_train, enc_cfg, cfg, device)
    vrng = np.random.default_rng(cfg.seed + 1)
    vi, vj, vy = PairSampler(np.asarray(y_val), cfg.positive_fraction).sample(cfg.val_pairs, vrng)
    xv = torch.as_tensor(x_val, dtype=torch.float32).to(trainer.device)
    vi_t, vj_t = torch.from_numpy(vi).to(trainer.device), torch.from_numpy(vj).to(trainer.device)
    vy_t = torch.from_numpy(vy).to(trainer.device)

    def run_epoch(epoch: int) -> tuple[float, int, dict]:
        return (*trainer.run_epoch(), {})

    enc = trainer.encoder
    return fit_early_stopping(enc, run_epoch, lambda: pair_loss(enc, xv, vi_t, vj_t, vy_t, cfg.margin), cfg, on_epoch)


def fit_early_stopping(encoder: Encoder, run_epoch: Callable[[int], tuple[float, int, dict]],
                       val_loss: Callable[[], float], cfg: TrainConfig,
                       on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """The epoch loop shared by the in-memory, streamed and DDP trainers: early stopping on ``val_loss()``.

    ``run_epoch(epoch)`` trains one epoch and returns (mean contrastive loss, pairs seen, extra record keys).
    The encoder of the best validation epoch is restored; ``samples_per_second`` counts both members of a pair.
    """
    res = TrainResult(encoder=encoder)
    best_state = copy.deepcopy(encoder.state_dict())
    res.best_val_loss = val_loss()
    res.history.append({"epoch": 0, "train_loss": float("nan"), "val_loss": res.best_val_loss, "seconds": 0.0})
    if on_epoch:
        on_epoch(res.history[-1])
    bad, t_start, train_time, n_seen = 0, time.perf_counter(), 0.0, 0
    for epoch in range(1, cfg.max_epochs + 1):
        t0 = time.perf_counter()
        train_loss, seen, extra = run_epoch(epoch)
        train_time += time.perf_counter() - t0
        n_seen += seen
        vloss = val_loss()
        if not np.isfinite(train_loss) or not np.isfinite(vloss):
            raise SmeftfmError(f"training diverged at epoch {epoch} (loss {train_loss}, val {vloss}); "
                               "lower train.lr")
        rec = {"epoch": epoch, "train_loss": train_loss, "val_loss": vloss,
               "seconds": time.perf_counter() - t0, **extra}
        res.history.append(rec)
        if on_epoch:
            on_epoch(rec)
        if vloss < res.best_val_loss - cfg.min_delta:
            res.best_val_loss, res.best_epoch, bad = vloss, epoch, 0
            best_state = copy.deepcopy(encoder.state_dict())
        else:
            bad += 1
            if bad >= cfg.patience:
                res.stopped_early = True
                break
    encoder.load_state_dict(best_state)
    encoder.eval()
    res.seconds = time.perf_counter() - t_start
    res.samples_per_second = 2 * n_seen / train_time if train_time > 0 else 0.0
    return res

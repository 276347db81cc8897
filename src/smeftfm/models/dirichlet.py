"""Dirichlet prior network (DPN) head on the frozen latent (seed paper eqs. 4.1-4.6).

A small MLP maps a latent point to scores ``f_c``; the concentrations are ``alpha_c = exp(f_c)`` (eq. 4.4).
Uncertainties, all in nats:

* total: entropy of the mean categorical, ``H[alpha/alpha0]`` (eq. 4.5);
* expected data (aleatoric) uncertainty: ``E_Dir[H[mu]] = -sum_c (alpha_c/alpha0) (psi(alpha_c+1) - psi(alpha0+1))``;
* distributional (epistemic) uncertainty: mutual information ``I = total - expected`` (eq. 4.6 and the
  closed form below it).

Training loss (the paper does not state one): the reverse KL of Malinin & Gales (NeurIPS 2019),
``KL[Dir(alpha_pred) || Dir(alpha_target)]``, with a sharp target ``1 + precision * onehot(label)``
(precision 1000 for C = 100, see docs/models.md) for in-distribution latent points and the flat target
``alpha = 1`` (maximal MI) for synthetic out-of-distribution latent points (:func:`synthetic_ood`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import nn

from ..errors import SmeftfmError
from .mlp import mlp

__all__ = ["LOG_ALPHA_MAX", "DPNConfig", "DirichletHead", "dirichlet_kl", "dpn_outputs", "expected_calibration_error",
           "expected_data_entropy", "mutual_information", "synthetic_ood", "total_entropy", "train_dpn"]

LOG_ALPHA_MAX = 15.0  # exp(15) ~ 3e6: caps alpha against overflow


def total_entropy(alpha: torch.Tensor) -> torch.Tensor:
    """Entropy of the predictive mean ``alpha / alpha0`` (eq. 4.5), per row, nats."""
    p = alpha / alpha.sum(-1, keepdim=True)
    return -(p * torch.log(torch.clamp(p, min=1e-300))).sum(-1)


def expected_data_entropy(alpha: torch.Tensor) -> torch.Tensor:
    """``E_{mu ~ Dir(alpha)}[H[mu]]`` in closed form, per row, nats."""
    a0 = alpha.sum(-1, keepdim=True)
    p = alpha / a0
    return -(p * (torch.digamma(alpha + 1.0) - torch.digamma(a0 + 1.0))).sum(-1)


def mutual_information(alpha: torch.Tensor) -> torch.Tensor:
    """Mutual information between label and categorical (eq. 4.6), per row, nats (>= 0)."""
    return torch.clamp(total_entropy(alpha) - expected_data_entropy(alpha), min=0.0)


def dirichlet_kl(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``KL[Dir(alpha) || Dir(beta)]`` per row (closed form)."""
    a0 = alpha.sum(-1)
    b0 = beta.sum(-1)
    return (torch.lgamma(a0) - torch.lgamma(alpha).sum(-1) - torch.lgamma(b0) + torch.lgamma(beta).sum(-1)
            + ((alpha - beta) * (torch.digamma(alpha) - torch.digamma(a0)[..., None])).sum(-1))


class DirichletHead(nn.Module):
    """Latent ``[n, d]`` -> log-concentrations ``[n, C]``; ``alpha = exp(log_alpha)``.

    Inputs are compactified, ``u = tanh((z - centre) / scale)`` with ``scale`` half the half-width of the
    synthetic-OOD box, so the box edge maps to tanh(2) = 0.96 and anything farther saturates there: points far
    outside the data inherit the flat (high-MI) output learnt on the box instead of a ReLU network's
    linear extrapolation to ever larger, over-confident scores.
    """

    def __init__(self, latent_dim: int, n_classes: int, hidden: int = 128, depth: int = 2):
        super().__init__()
        self.net = mlp(latent_dim, hidden, depth, n_classes)
        self.register_buffer("shift", torch.zeros(latent_dim))
        self.register_buffer("scale", torch.ones(latent_dim))

    def set_standardisation(self, z: np.ndarray, pad: float = 1.0) -> None:
        """Centre on the middle of the training latent box; scale to half the half-width of the OOD box."""
        lo, hi = z.min(0), z.max(0)
        span = np.maximum(hi - lo, 1e-6)
        self.shift.copy_(torch.as_tensor(0.5 * (lo + hi), dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(0.5 * (0.5 + pad) * span, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = torch.tanh((z - self.shift) / self.scale)
        return torch.clamp(self.net(u), max=LOG_ALPHA_MAX)

    def alpha(self, z: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.forward(z))


def synthetic_ood(z_in: np.ndarray, n: int, rng: np.random.Generator, pad: float = 1.0,
                  min_dist_quantile: float = 0.99, dist_factor: float = 2.0) -> np.ndarray:
    """Latent points away from the training data, as flat-target examples for the DPN.

    Uniform in the bounding box of ``z_in`` enlarged by ``pad`` times its extent on every side, keeping only
    points whose nearest in-distribution neighbour is farther than ``dist_factor`` times the
    ``min_dist_quantile`` quantile of the in-distribution nearest-neighbour distances.
    """
    if z_in.ndim != 2 or len(z_in) < 10:
        raise SmeftfmError("synthetic OOD points need at least 10 in-distribution latent points")
    tree = cKDTree(z_in)
    nn_d = tree.query(z_in, k=2)[0][:, 1]
    thr = dist_factor * float(np.quantile(nn_d, min_dist_quantile))
    lo, hi = z_in.min(0), z_in.max(0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    out: list[np.ndarray] = []
    have = 0
    for _ in range(50):  # rejection rounds (vectorised inside)
        cand = rng.uniform(lo, hi, size=(max(4 * n, 1000), z_in.shape[1]))
        keep = cand[tree.query(cand, k=1)[0] > thr]
        out.append(keep)
        have += len(keep)
        if have >= n:
            break
    pts = np.concatenate(out)[:n]
    if len(pts) < n:
        raise SmeftfmError("could not place synthetic OOD latent points; the latent box is filled by data")
    return pts.astype(np.float32)


@dataclass(frozen=True)
class DPNConfig:
    hidden: int = 128
    depth: int = 2
    epochs: int = 20
    batch_size: int = 2048
    lr: float = 3e-3
    target_precision: float = 1000.0
    ood_fraction: float = 1.0
    ood_pad: float = 1.0
    seed: int = 0


def train_dpn(z: np.ndarray, labels: np.ndarray, n_classes: int, cfg: DPNConfig,
              device: torch.device | str = "cpu") -> DirichletHead:
    """Fit a :class:`DirichletHead` with the reverse-KL loss on latent points ``z`` and labels 0..C-1."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise SmeftfmError(f"DPN labels must lie in 0..{n_classes - 1}")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n_ood = int(round(cfg.ood_fraction * len(z)))
    z_ood = synthetic_ood(z, n_ood, rng, pad=cfg.ood_pad) if n_ood > 0 else np.zeros((0, z.shape[1]), np.float32)
    head = DirichletHead(z.shape[1], n_classes, cfg.hidden, cfg.depth)
    head.set_standardisation(z, cfg.ood_pad)
    head.to(device)
    zz = torch.as_tensor(np.concatenate([z, z_ood]), dtype=torch.float32, device=device)
    target = torch.ones((len(zz), n_classes), dtype=torch.float32, device=device)
    target[torch.arange(len(z), device=device), torch.as_tensor(labels, device=device)] += cfg.target_precision
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    g = torch.Generator().manual_seed(cfg.seed)
    head.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(zz), generator=g).to(device)
        for s in range(0, len(zz), cfg.batch_size):
            b = perm[s:s + cfg.batch_size]
            loss = dirichlet_kl(head.alpha(zz[b]), target[b]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    head.eval()
    return head


@torch.no_grad()
def dpn_outputs(head: DirichletHead, z: np.ndarray, batch_size: int = 65536) -> dict[str, np.ndarray]:
    """Per point: ``pred`` (argmax alpha), ``confidence`` (max alpha_c/alpha0), ``alpha0``, ``entropy``,
    ``expected_entropy`` and ``mi`` (nats)."""
    dev = next(head.parameters()).device
    keys = ("pred", "confidence", "alpha0", "entropy", "expected_entropy", "mi")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    zt = torch.from_numpy(np.array(z, dtype=np.float32, copy=True))
    for s in range(0, len(zt), batch_size):
        a = head.alpha(zt[s:s + batch_size].to(dev)).double()
        a0 = a.sum(-1)
        conf, pred = (a / a0[:, None]).max(-1)
        vals = (pred, conf, a0, total_entropy(a), expected_data_entropy(a), mutual_information(a))
        for k, v in zip(keys, vals, strict=True):
            parts[k].append(v.cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE: bin-size-weighted mean |accuracy - confidence| over ``n_bins`` equal-width confidence bins."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    idx = np.clip((confidence * n_bins).astype(np.int64), 0, n_bins - 1)
    cnt = np.bincount(idx, minlength=n_bins)
    acc = np.bincount(idx, weights=correct, minlength=n_bins)
    conf = np.bincount(idx, weights=confidence, minlength=n_bins)
    nz = cnt > 0
    return float(np.sum(np.abs(acc[nz] - conf[nz])) / max(len(confidence), 1))

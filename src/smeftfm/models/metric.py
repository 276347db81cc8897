r"""The `recommended` encoder: metric learning on likelihood distances (docs/models.md, "The recommended encoder").

Input transform: SM-covariance whitening, u = W (x - y_SM) with u^T u = chi^2(x vs SM) under the corpus Sigma
(:class:`smeftfm.models.references.Precision`), so Euclidean distances between inputs are likelihood distances:
||u_a - u_b||^2 = (x_a - x_b)^T P (x_a - x_b).

Network: z = A u + MLP(u) (a linear path beside ``depth`` x [Linear(width) -> ReLU] -> Linear(latent_dim)).

Loss (normalised stress of random replica pairs, half of them from the same universe):

    L = sum_pairs (||z_a - z_b|| - ||u_a - u_b||)^2 / sum_pairs ||u_a - u_b||^2,

i.e. the latent is trained to keep chi^2 distances; with latent_dim below the number of bins it keeps the large
ones (between universes) first. Determinism: CPU, ``torch.use_deterministic_algorithms``, one seeded generator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SmeftfmError
from .mlp import mlp
from .references import Precision

__all__ = ["MetricConfig", "MetricEmbedder", "MetricNet", "train_metric"]


@dataclass(frozen=True)
class MetricConfig:
    """Sizes (counts), Adam ``lr``, ``steps`` of ``batch_size`` pairs, ``seed``."""

    latent_dim: int = 16
    depth: int = 2
    width: int = 128
    lr: float = 1e-3
    steps: int = 1500
    batch_size: int = 512
    positive_fraction: float = 0.5
    seed: int = 0


class MetricNet(nn.Module):
    """z = A u + MLP(u)."""

    def __init__(self, n_in: int, cfg: MetricConfig):
        super().__init__()
        self.mlp = mlp(n_in, cfg.width, cfg.depth, cfg.latent_dim)
        self.linear = nn.Linear(n_in, cfg.latent_dim, bias=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.linear(u) + self.mlp(u)


class MetricEmbedder:
    """Raw spectra (pb/GeV) -> whitened u -> latent z (numpy in, numpy out)."""

    def __init__(self, net: MetricNet, prec: Precision, y_sm: np.ndarray, scale: float):
        self.net = net.eval()
        self.prec = prec
        self.y_sm = np.asarray(y_sm, dtype=np.float64)
        self.scale = scale
        self.latent_dim = net.linear.out_features

    def features(self, x: np.ndarray) -> np.ndarray:
        return (self.prec.whiten(x, self.y_sm) / self.scale).astype(np.float32)

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        u = torch.as_tensor(self.features(x))
        return (self.net(u) * self.scale).numpy().astype(np.float64)


def train_metric(x: np.ndarray, labels: np.ndarray, prec: Precision, y_sm: np.ndarray,
                 cfg: MetricConfig) -> tuple[MetricEmbedder, dict]:
    """Fit the metric encoder on replicas ``x [n, B]`` (pb/GeV) of universes ``labels [n]``; returns it and stats."""
    if len(x) != len(labels) or len(x) < 2:
        raise SmeftfmError("metric training needs at least two replicas with one label each")
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # byte-identical reductions on CPU, and no thread contention on shared machines
    rng = np.random.default_rng(cfg.seed)
    u_np = prec.whiten(x, y_sm)
    scale = float(np.sqrt(prec.nu))  # the typical noise distance: keeps activations O(1)
    u = torch.as_tensor(u_np / scale, dtype=torch.float32)
    net = MetricNet(u.shape[1], cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    order = np.argsort(labels, kind="stable")
    lab_sorted = labels[order]
    starts = np.searchsorted(lab_sorted, np.unique(lab_sorted))
    counts = np.diff(np.append(starts, len(labels)))
    group = np.searchsorted(np.unique(lab_sorted), labels)
    t0 = time.perf_counter()
    losses = []
    for _ in range(cfg.steps):
        i = rng.integers(0, len(u), cfg.batch_size)
        j = rng.integers(0, len(u), cfg.batch_size)
        same = rng.random(cfg.batch_size) < cfg.positive_fraction
        g = group[i[same]]
        j[same] = order[starts[g] + (rng.random(same.sum()) * counts[g]).astype(np.int64)]
        ui, uj = u[i], u[j]
        d_in = torch.linalg.vector_norm(ui - uj, dim=1)
        d_out = torch.linalg.vector_norm(net(ui) - net(uj), dim=1)
        loss = ((d_out - d_in) ** 2).sum() / (d_in ** 2).sum().clamp_min(1e-12)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    stats = {"final_stress": float(np.mean(losses[-50:])), "seconds": time.perf_counter() - t0,
             "steps": cfg.steps}
    return MetricEmbedder(net, prec, y_sm, scale), stats

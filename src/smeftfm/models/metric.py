r"""The `recommended` encoder: the SM-whitened residual, metric learning and a supervised coefficient head
(docs/models.md, "The recommended encoder").

Input transform (``whitening``): ``chi2``: SM-covariance whitening, w = L^-1 (x - y_SM) with w^T w = chi^2(x vs SM)
under the corpus Sigma (:class:`smeftfm.models.references.Precision`), so Euclidean distances between inputs are
likelihood distances ||w_a - w_b||^2 = (x_a - x_b)^T P (x_a - x_b); ``gof``: the same on the Gaussian bins and the
signed root Poisson deviance on the count bins (:class:`smeftfm.models.references.GofWhitening`), w^T w = the GoF
statistic of the scorecard. Spectra in pb/GeV; w is dimensionless (units of sigma), scaled by
1/sqrt(nu) inside the network (activations O(1)) and scaled back on output.

Network, two blocks of one latent z = [z_m, z_c]:

* metric block z_m = A w + MLP(w), ``latent_dim`` wide (0 = the input width nu). With ``identity_init`` and a
  full-width block, A starts at the identity and the MLP's last layer at zero, so the latent distance to the SM
  starts equal to the chi^2 goodness-of-fit statistic (and the stress below starts at its minimum, 0);
* coefficient block z_c = MLP_c(w) (``coef_width`` > 0): a *supervised* regression of the standardised Wilson
  coefficients of the training universes (MSE, weight ``coef_weight``), in units of each coefficient's training
  standard deviation.

Loss: the normalised stress of random replica pairs (half of them from the same universe) on the metric block,

    L = sum_pairs (||z_m,a - z_m,b|| - ||w_a - w_b||)^2 / sum_pairs ||w_a - w_b||^2  (+ coef_weight MSE_c),

i.e. the metric block is trained to keep chi^2 distances; with ``latent_dim`` below nu it keeps the large ones
(between universes) first. The SM-compatibility score and retrieval read the metric block only
(:meth:`MetricEmbedder.metric`); the coefficient probe reads the whole latent. Determinism: CPU,
``torch.use_deterministic_algorithms``, one seeded generator, one thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SmeftfmError
from .mlp import mlp
from .references import GofWhitening, Precision

__all__ = ["MetricConfig", "MetricEmbedder", "MetricNet", "train_metric"]


@dataclass(frozen=True)
class MetricConfig:
    """Sizes (counts; ``latent_dim`` 0 = the input width), Adam ``lr``, ``steps`` of ``batch_size`` pairs,
    ``coef_width`` (0 = no supervised head) and its loss weight, ``seed``."""

    latent_dim: int = 0
    depth: int = 2
    width: int = 128
    lr: float = 1e-3
    steps: int = 1500
    batch_size: int = 512
    positive_fraction: float = 0.5
    identity_init: bool = True
    coef_width: int = 128
    coef_weight: float = 1.0
    seed: int = 0


class MetricNet(nn.Module):
    """z = [A w + MLP(w), MLP_c(w)] (the second block only with ``n_coef`` > 0)."""

    def __init__(self, n_in: int, cfg: MetricConfig, n_coef: int = 0):
        super().__init__()
        dim = cfg.latent_dim or n_in
        self.mlp = mlp(n_in, cfg.width, cfg.depth, dim)
        self.linear = nn.Linear(n_in, dim, bias=False)
        if cfg.identity_init:
            with torch.no_grad():
                self.linear.weight.copy_(torch.eye(dim, n_in))
                last = self.mlp[-1]
                assert isinstance(last, nn.Linear)
                last.weight.zero_()
                last.bias.zero_()
        self.coef = mlp(n_in, cfg.coef_width, 2, n_coef) if (n_coef and cfg.coef_width) else None
        self.metric_dim = dim

    def metric(self, w: torch.Tensor) -> torch.Tensor:
        return self.linear(w) + self.mlp(w)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        zm = self.metric(w)
        return zm if self.coef is None else torch.cat([zm, self.coef(w)], dim=-1)


class MetricEmbedder:
    """Raw spectra (pb/GeV) -> whitened w -> latent z (numpy in, numpy out).

    ``__call__`` gives the whole latent [z_m (sigma units), z_c (coefficient standard deviations)]; :meth:`metric`
    the metric block only (the SM-compatibility score and retrieval); :meth:`project2d` a 2-D projection of the
    metric block for the paper's figures (its two leading principal directions over the training replicas)."""

    def __init__(self, net: MetricNet, prec: Precision | GofWhitening, y_sm: np.ndarray, scale: float,
                 axes2d: np.ndarray | None = None):
        self.net = net.eval()
        self.prec = prec
        self.y_sm = np.asarray(y_sm, dtype=np.float64)
        self.scale = scale
        self.latent_dim = net.metric_dim + (0 if net.coef is None else net.coef[-1].out_features)
        self.axes2d = axes2d

    def features(self, x: np.ndarray) -> np.ndarray:
        return (self.prec.whiten(x, self.y_sm) / self.scale).astype(np.float32)

    @torch.no_grad()
    def metric(self, x: np.ndarray) -> np.ndarray:
        u = torch.as_tensor(self.features(x))
        return (self.net.metric(u) * self.scale).numpy().astype(np.float64)

    @torch.no_grad()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        u = torch.as_tensor(self.features(x))
        zm = self.net.metric(u) * self.scale
        if self.net.coef is None:
            return zm.numpy().astype(np.float64)
        return torch.cat([zm, self.net.coef(u)], dim=-1).numpy().astype(np.float64)

    def project2d(self, x: np.ndarray) -> np.ndarray:
        if self.axes2d is None:
            raise SmeftfmError("this embedder has no 2-D projection; train it with train_metric")
        return self.metric(x) @ self.axes2d


def train_metric(x: np.ndarray, labels: np.ndarray, prec: Precision | GofWhitening, y_sm: np.ndarray,
                 cfg: MetricConfig, coeffs: np.ndarray | None = None) -> tuple[MetricEmbedder, dict]:
    """Fit the encoder on replicas ``x [n, B]`` (pb/GeV) of universes ``labels [n]`` (and, for the supervised
    head, their Wilson coefficients ``coeffs [n, P]``); returns it and training stats."""
    if len(x) != len(labels) or len(x) < 2:
        raise SmeftfmError("metric training needs at least two replicas with one label each")
    if coeffs is not None and len(coeffs) != len(x):
        raise SmeftfmError(f"coeffs has {len(coeffs)} rows for {len(x)} replicas; pass one row per replica")
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # byte-identical reductions on CPU, and no thread contention on shared machines
    rng = np.random.default_rng(cfg.seed)
    u_np = prec.whiten(x, y_sm)
    scale = float(np.sqrt(prec.nu))  # the typical noise distance: keeps activations O(1)
    u = torch.as_tensor(u_np / scale, dtype=torch.float32)
    use_coef = coeffs is not None and cfg.coef_width > 0 and cfg.coef_weight > 0
    if use_coef:
        c_sd = coeffs.std(0)
        c_t = torch.as_tensor((coeffs - coeffs.mean(0)) / np.where(c_sd > 0, c_sd, 1.0), dtype=torch.float32)
    net = MetricNet(u.shape[1], cfg, coeffs.shape[1] if use_coef else 0)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    order = np.argsort(labels, kind="stable")
    lab_sorted = labels[order]
    starts = np.searchsorted(lab_sorted, np.unique(lab_sorted))
    counts = np.diff(np.append(starts, len(labels)))
    group = np.searchsorted(np.unique(lab_sorted), labels)
    t0 = time.perf_counter()
    losses, coef_losses = [], []
    for _ in range(cfg.steps):
        i = rng.integers(0, len(u), cfg.batch_size)
        j = rng.integers(0, len(u), cfg.batch_size)
        same = rng.random(cfg.batch_size) < cfg.positive_fraction
        g = group[i[same]]
        j[same] = order[starts[g] + (rng.random(same.sum()) * counts[g]).astype(np.int64)]
        ui, uj = u[i], u[j]
        d_in = torch.linalg.vector_norm(ui - uj, dim=1)
        d_out = torch.linalg.vector_norm(net.metric(ui) - net.metric(uj), dim=1)
        loss = ((d_out - d_in) ** 2).sum() / (d_in ** 2).sum().clamp_min(1e-12)
        total = loss
        if use_coef:
            assert net.coef is not None
            mse = ((net.coef(ui) - c_t[i]) ** 2).mean()
            total = loss + cfg.coef_weight * mse
            coef_losses.append(mse.item())
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        zm = net.metric(u[rng.choice(len(u), size=min(len(u), 20000), replace=False)]).numpy().astype(np.float64)
    _, _, vt = np.linalg.svd(zm - zm.mean(0), full_matrices=False)
    stats = {"final_stress": float(np.mean(losses[-50:])), "seconds": time.perf_counter() - t0,
             "steps": cfg.steps, "metric_dim": net.metric_dim,
             "coef_dim": 0 if net.coef is None else int(net.coef[-1].out_features),
             "final_coef_mse": float(np.mean(coef_losses[-50:])) if coef_losses else None}
    return MetricEmbedder(net, prec, y_sm, scale, vt[:2].T.copy()), stats

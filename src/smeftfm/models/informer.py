r"""ManifoldInformer: a permutation-invariant per-event encoder pooled into a closed-form ridge head (JEPA).

* Per-event input lifts ``L(x)`` of x = (m_ll [GeV], y_ll, cos theta_CS) (:func:`event_lifts`): the coordinates
  u (log mass), c, v (|y|), the Z Breit-Wigner shapes, the helicity ratio ``2c/(1+c^2)`` and all their pairwise
  products; standardised on the SM pool.
* Encoder ``phi(x) = [L(x), MLP(L(x))]`` in R^(n_lifts + embed_dim): the input lifts pass through (a skip path) and
  the MLP adds learned features. Reported probe R^2 values separate the two parts.
* Deep-Sets mean pooling of ``phi`` over the events of one working point gives its context row.
* Ridge head over working points (:func:`~smeftfm.models.ridge.ridge_predict`): keys = context rows of view 1
  (online encoder), values = context rows of view 2 (EMA target encoder); the held-out working points' rows are
  predicted in one solve. Both views are independent event draws at the same working point.
* The prediction runs on the learned block of phi (the skip-path lifts are fixed and carry no gradient).
  Loss = |prediction - EMA target|^2 on centred rows, each dimension divided by its variance across the step's
  working points, + VICReg variance (hinge at unit std) and covariance (off-diagonal^2) terms on the per-event
  MLP features, against collapse; the target encoder follows the online one by EMA.

* Optional **supervised auxiliary objective** (``aux_weight`` > 0; reported as such, not self-supervised): a linear
  head from the learned per-event features to the standardised per-event tangents ``lin:k/SM`` of the view's events,
  squared error added to the JEPA loss. ``aux_weight`` = 0 is the JEPA-only informer.

Events at a working point C are drawn by multinomial resampling of a large SM event pool with the exact weights
``p(x|C)/p(x|SM)`` from the quadratic morphing terms (no oracle call during training). The pool may be drawn from
a mass-biased density ``p_SM(x) b(m)`` (``mass_tilt``, more high-mass events); each event then carries the
importance weight ``1/b(m)`` and the Deep-Sets pooling is the weighted mean, which estimates the same E_C[phi].
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..errors import SmeftfmError
from ..physics.kinematics import KinematicMap
from ..physics.morphing import monomials
from .mlp import mlp
from .ridge import ridge_predict

__all__ = ["EventEncoder", "EventPool", "InformerConfig", "distinct_columns", "encode", "event_lifts", "pooled",
           "probe_r2", "train_informer", "vicreg_terms"]


def event_lifts(m: np.ndarray, y: np.ndarray, cos_cs: np.ndarray, kmap: KinematicMap) -> np.ndarray:
    """Physics-aware per-event lifts (unstandardised), shape ``[n, 11 + 66]``: base features and pairwise products."""
    m, y, c = (np.asarray(a, dtype=np.float64) for a in (m, y, cos_cs))
    u, v = kmap.u(m), kmap.v(y)
    re_bw, abs_bw = kmap.breit_wigner(m)
    base = np.stack([u, u * u, u**3, u**4, c, c * c, v, v * v, re_bw, abs_bw, 2 * c / (1 + c * c)], axis=1)
    i, j = np.triu_indices(base.shape[1])
    return np.concatenate([base, base[:, i] * base[:, j]], axis=1)


@dataclass(frozen=True)
class InformerConfig:
    """Architecture and training of the ManifoldInformer."""

    embed_dim: int = 128
    hidden: int = 512
    depth: int = 2
    events_per_set: int = 256
    working_points: int = 32
    steps: int = 600
    lr: float = 1e-3
    ridge: float = 1e-2
    ema: float = 0.99
    var_weight: float = 1.0
    cov_weight: float = 0.04
    coeff_max: float = 10.0
    aux_weight: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class EventEncoder(nn.Module):
    """``phi(x) = [L_std(x), MLP(L_std(x))]`` with the standardisation stored as buffers."""

    def __init__(self, n_lifts: int, cfg: InformerConfig, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.mlp = mlp(n_lifts, cfg.hidden, cfg.depth, cfg.embed_dim, activation=nn.SiLU)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def standardise(self, lifts: torch.Tensor) -> torch.Tensor:
        return (lifts - self.mean) / self.std

    def learned(self, lifts: torch.Tensor) -> torch.Tensor:
        """The MLP part of phi (lifts unstandardised in, features out)."""
        return self.mlp(self.standardise(lifts))

    def forward(self, lifts: torch.Tensor) -> torch.Tensor:
        z = self.standardise(lifts)
        return torch.cat([z, self.mlp(z)], dim=-1)


def vicreg_terms(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """VICReg variance (mean hinge of unit std) and covariance (mean squared off-diagonal) terms of ``z [n, d]``."""
    zc = z - z.mean(0)
    std = torch.sqrt(zc.var(0) + 1e-4)
    var = torch.relu(1.0 - std).mean()
    cov = (zc.T @ zc) / (z.shape[0] - 1)
    off = cov - torch.diag(torch.diag(cov))
    return var, (off**2).sum() / z.shape[1]


class EventPool:
    """An SM event pool with exact resampling weights to any working point (quadratic morphing).

    ``weights``: per-event importance weights with respect to the SM density (1 for a plain SM sample,
    ``(m/m_lo)^-k`` for a pool drawn with ``mass_tilt`` = k); normalised to mean 1.
    """

    def __init__(self, lifts: np.ndarray, terms: np.ndarray, n_operators: int, weights: np.ndarray | None = None):
        if terms.shape[0] != lifts.shape[0] or not np.all(terms[:, 0] > 0):
            raise SmeftfmError("event pool: lifts and terms disagree or an event has zero SM rate")
        w = np.ones(lifts.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (lifts.shape[0],) or not np.all(np.isfinite(w) & (w > 0)):
            raise SmeftfmError("event pool: weights must be one finite positive number per event")
        self.lifts = torch.as_tensor(lifts, dtype=torch.float32)
        self.ratio_terms = torch.as_tensor(terms / terms[:, :1], dtype=torch.float64)  # T(x)/SM(x)
        self.weights = torch.as_tensor(w / w.mean(), dtype=torch.float32)
        self.n_operators = n_operators

    @property
    def device(self) -> torch.device:
        return self.lifts.device

    def to(self, device) -> EventPool:
        """Move the pool to ``device`` (in place); returns the pool."""
        self.lifts, self.ratio_terms = self.lifts.to(device), self.ratio_terms.to(device)
        self.weights = self.weights.to(device)
        return self

    def draw(self, coeffs: np.ndarray, n: int, gen: torch.Generator,
             return_index: bool = False) -> tuple[torch.Tensor, ...]:
        """Two independent views at working points ``coeffs [M, K]``: lifts ``[2, M, n, p]``, weights ``[2, M, n]``
        (and, with ``return_index``, the pool indices ``[2, M, n]``).

        Pool with :func:`pooled` (the weighted mean estimates E_C[.] whatever the pool's mass bias).
        """
        mono = torch.as_tensor(monomials(np.asarray(coeffs, dtype=np.float64), "quadratic"), device=self.device)
        w = (self.ratio_terms @ mono.T).T.clamp_min(0.0)  # [M, N_pool], p(x|C)/p(x|SM) up to a constant
        idx = torch.multinomial(w, 2 * n, replacement=True, generator=gen)  # [M, 2n]
        ev, wt = self.lifts[idx], self.weights[idx]  # [M, 2n, p], [M, 2n]
        out = (torch.stack([ev[:, :n], ev[:, n:]]), torch.stack([wt[:, :n], wt[:, n:]]))
        return (*out, torch.stack([idx[:, :n], idx[:, n:]])) if return_index else out

    def tangent_targets(self) -> torch.Tensor:
        """Per-event tangents ``lin:k/SM`` standardised with the pool's weighted mean and std, ``[N_pool, K]``
        (float32; the targets of the supervised auxiliary objective)."""
        t = self.ratio_terms[:, 1 : 1 + self.n_operators].float()
        w = self.weights[:, None] / self.weights.sum()
        mu = (w * t).sum(0)
        sd = ((w * (t - mu) ** 2).sum(0)).sqrt().clamp_min(1e-12)
        return (t - mu) / sd


def pooled(h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Deep-Sets weighted mean over the event axis: ``h [..., n, d]``, ``weights [..., n]`` -> ``[..., d]``."""
    w = weights / weights.sum(-1, keepdim=True)
    return (h * w[..., None]).sum(-2)


def train_informer(pool: EventPool, cfg: InformerConfig, seed: int, mean: np.ndarray, std: np.ndarray,
                   log_every: int = 50, snapshot_steps: tuple[int, ...] = (),
                   snapshots: dict | None = None) -> tuple[EventEncoder, list[dict]]:
    """JEPA training of the encoder on the pool's device; returns the online encoder and a loss history.

    ``snapshot_steps``: the online encoder's state dict (on CPU) is stored in ``snapshots[step]`` before that many
    optimiser steps (0 = the untrained encoder), for checkpoints of different quality.
    """
    torch.manual_seed(seed)
    gen = torch.Generator(device=pool.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    enc = EventEncoder(pool.lifts.shape[1], cfg, mean, std).to(pool.device)
    target = copy.deepcopy(enc)
    for p in target.parameters():
        p.requires_grad_(False)
    params = list(enc.parameters())
    aux_head = aux_targets = None
    if cfg.aux_weight > 0:  # supervised auxiliary objective: learned features -> per-event tangents (linear head)
        aux_head = nn.Linear(cfg.embed_dim, pool.n_operators).to(pool.device)
        aux_targets = pool.tangent_targets()
        params += list(aux_head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr)
    n_ctx = cfg.working_points // 2
    history = []
    for step in range(cfg.steps):
        if snapshots is not None and step in snapshot_steps:
            snapshots[step] = {k: v.detach().cpu().clone() for k, v in enc.state_dict().items()}
        c = rng.uniform(-cfg.coeff_max, cfg.coeff_max, size=(cfg.working_points, pool.n_operators))
        views, wts, idx = pool.draw(c, cfg.events_per_set, gen, return_index=True)  # [2, M, n, p], [2, M, n]
        learned = enc.learned(views[0])  # [M, n, d]: the trainable block (the skip-path lifts are fixed)
        with torch.no_grad():
            t2 = pooled(target.learned(views[1]), wts[1])  # EMA target rows [M, d]
        rows = pooled(learned, wts[0])
        mu_k, mu_v = rows[:n_ctx].mean(0), t2[:n_ctx].mean(0)
        keys, vals = rows[:n_ctx] - mu_k, t2[:n_ctx] - mu_v
        queries = rows[n_ctx:] - mu_k
        lam = cfg.ridge * (keys.pow(2).sum() / keys.shape[1]).detach().clamp_min(1e-8)
        pred = ridge_predict(keys[None].double(), vals[None].double(), queries[None].double(), float(lam))[0]
        scale = t2.var(0).clamp_min(1e-12)  # per target dimension, across the step's working points
        loss_pred = (((pred.float() - (t2[n_ctx:] - mu_v)) ** 2) / scale).mean()
        learned = learned.reshape(-1, cfg.embed_dim)
        var, cov = vicreg_terms(learned)
        loss = loss_pred + cfg.var_weight * var + cfg.cov_weight * cov
        loss_aux = torch.zeros(())
        if aux_head is not None:
            loss_aux = ((aux_head(learned) - aux_targets[idx[0].reshape(-1)]) ** 2).mean()
            loss = loss + cfg.aux_weight * loss_aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pt, po in zip(target.parameters(), enc.parameters(), strict=True):
                pt.mul_(cfg.ema).add_(po.detach(), alpha=1.0 - cfg.ema)
        if step % log_every == 0 or step == cfg.steps - 1:
            history.append({"step": step, "loss": loss.item(), "pred": loss_pred.item(), "var": var.item(),
                            "cov": cov.item(), "aux": loss_aux.item()})
    return enc, history


def probe_r2(features_fit: np.ndarray, targets_fit: np.ndarray, features_test: np.ndarray,
             targets_test: np.ndarray, ridge_rel: float = 1e-6, weights_fit: np.ndarray | None = None,
             weights_test: np.ndarray | None = None, n_boot: int = 0, seed: int = 0):
    """Held-out R^2 per target column of a linear probe (with intercept, tiny ridge) fitted on the fit set.

    With importance weights (events drawn from a biased density, weight = p_SM/q), the probe is the weighted
    least-squares fit and R^2 = 1 - sum w res^2 / sum w (t - mean_w t)^2: both estimate the same population
    quantities under p_SM as the unweighted formulas on an SM sample, with lower variance in the tail.
    ``n_boot`` > 0 also returns the bootstrap standard error of R^2 over the test events (probe fixed):
    ``(r2, se)``; otherwise ``r2`` alone.
    """
    def design(f):
        return np.concatenate([np.ones((f.shape[0], 1)), f], axis=1)

    wa = np.ones(features_fit.shape[0]) if weights_fit is None else np.asarray(weights_fit, dtype=np.float64)
    wb = np.ones(features_test.shape[0]) if weights_test is None else np.asarray(weights_test, dtype=np.float64)
    xa, xb = design(features_fit), design(features_test)
    mu = np.average(xa[:, 1:], axis=0, weights=wa)
    sd = np.sqrt(np.average((xa[:, 1:] - mu) ** 2, axis=0, weights=wa)) + 1e-12
    xa[:, 1:] = (xa[:, 1:] - mu) / sd
    xb[:, 1:] = (xb[:, 1:] - mu) / sd
    g = (xa * wa[:, None]).T @ xa
    g[1:, 1:] += ridge_rel * wa.sum() * np.eye(g.shape[0] - 1)
    beta = np.linalg.solve(g, (xa * wa[:, None]).T @ targets_fit)
    res = targets_test - xb @ beta

    def r2(idx=slice(None)):
        w, t, r = wb[idx], targets_test[idx], res[idx]
        ss = (w[:, None] * (t - np.average(t, axis=0, weights=w)) ** 2).sum(0)
        return 1.0 - (w[:, None] * r**2).sum(0) / np.where(ss > 0, ss, math.nan)

    if n_boot <= 0:
        return r2()
    rng = np.random.default_rng(seed)
    boots = np.array([r2(rng.integers(0, wb.size, wb.size)) for _ in range(n_boot)])
    return r2(), boots.std(0, ddof=1)


@torch.no_grad()
def encode(enc: EventEncoder, lifts: np.ndarray, learned_only: bool = False) -> np.ndarray:
    x = torch.as_tensor(lifts, dtype=torch.float32, device=enc.mean.device)
    out = enc.learned(x) if learned_only else enc(x)
    return out.double().cpu().numpy()


def distinct_columns(targets: np.ndarray, weights: np.ndarray | None = None, rtol: float = 1e-6) -> list[int]:
    """Indices of the columns of ``targets [n, k]`` that are not (weighted) linear combinations of earlier kept
    columns and a constant: a column is kept when its residual after that projection keeps more than ``rtol`` of
    its norm. Used to report curvature R^2 over distinct functions only."""
    t = np.asarray(targets, dtype=np.float64)
    w = np.ones(t.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    sw = np.sqrt(w / w.sum())[:, None]
    basis = [sw[:, 0] / np.linalg.norm(sw[:, 0])]
    keep = []
    for j in range(t.shape[1]):
        v = sw[:, 0] * t[:, j]
        r = v - sum((b @ v) * b for b in basis)
        if np.linalg.norm(r) > rtol * max(np.linalg.norm(v), 1e-300):
            keep.append(j)
            basis.append(r / np.linalg.norm(r))
    return keep

